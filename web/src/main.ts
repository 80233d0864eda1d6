// The console's shell: the API key form, the hash router (#/jobs, #/jobs/<id>, #/models, #/aliases,
// #/data) and the page in <main>. Each page returns a function that stops its timers and streams.
import { getKey, setKey } from './api.js';
import { fill, h, plain, say } from './dom.js';
import { aliasesPage } from './pages/aliases.js';
import { dataPage } from './pages/data.js';
import { jobPage, jobsPage } from './pages/jobs.js';
import { modelsPage } from './pages/models.js';

type Page = (main: HTMLElement, arg: string | undefined) => () => void;

const ROUTES: Record<string, Page> = {
  jobs: (main, id) => (id ? jobPage(main, id) : jobsPage(main)),
  models: modelsPage,
  aliases: aliasesPage,
  data: dataPage,
};

let stop: () => void = () => undefined;

/** An escape that does not decode (`%E0`) is taken as written: the service answers "not found". */
function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function route(): void {
  const [, name = 'jobs', arg] = location.hash.split('/');
  // Own names only: ROUTES['constructor'] is Object, whose "stop function" broke every later page.
  const page = Object.hasOwn(ROUTES, name) ? ROUTES[name] : ROUTES.jobs;
  const main = document.getElementById('main') as HTMLElement;
  stop();
  main.replaceChildren();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  stop = page(main, arg ? decoded(arg) : undefined);
}

/**
 * The key is typed once and kept in sessionStorage: it goes in headers, never in a URL, nor in the
 * page's HTML (the input's value is set as a property, not as an attribute). The form is built
 * once: a 401 (the jobs page's poll sends one every 2 s until the key is in) only changes its
 * message, so it never wipes a key being typed.
 */
const keyBox = document.getElementById('key') as HTMLElement;
const keyMessage = h('p', { class: 'error' });
const keyInput = h('input', { type: 'password', id: 'api-key', autocomplete: 'off' });
keyInput.value = getKey();

function keyForm(message?: string): void {
  keyMessage.textContent = plain(message ?? '');
  if (message) keyBox.prepend(keyMessage);
  else keyMessage.remove();
}

fill(
  keyBox,
  h(
    'form',
    {
      class: 'key',
      onsubmit: (e) => {
        e.preventDefault();
        const key = keyInput.value.trim();
        setKey(key);
        keyInput.value = key;
        say(key ? 'API key saved for this browser session' : 'API key cleared');
        keyForm();
        route();
      },
    },
    h('label', { for: 'api-key' }, 'API key'),
    keyInput,
    h('button', { type: 'submit' }, 'Use key'),
  ),
);

window.addEventListener('console:unauthorized', (e) =>
  keyForm(`The service asks for an API key: ${(e as CustomEvent<string>).detail}`),
);
window.addEventListener('hashchange', route);
route();
