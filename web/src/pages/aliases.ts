// Aliases: which model each names, and promotion (PUT /aliases/:name) after a confirmation that
// shows what changes: the model the alias names now and the one it will name.
import { api, enc } from '../api.js';
import { field, fill, h, options, say, table, userText } from '../dom.js';
import { num, when } from '../format.js';
import type { Alias, Model } from '../types.js';
import { aliases, attempt, modelText, models, untilDone } from './util.js';

// An HTML pattern is matched with the v flag, where a literal '-' in a class needs its backslash.
const NAME = '(?!mdl_)[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}';

function describe(m: Model | undefined, id: string | undefined): string {
  if (!id) return 'nothing (a new alias)';
  if (!m) return `${id} (deleted)`;
  return `${modelText(m)}, train loss ${num(m.metrics.trainLoss)}, created ${when(m.createdAt)}`;
}

function confirmation(
  name: string,
  from: string | undefined,
  to: string,
  byId: Map<string, Model>,
  done: () => void,
): HTMLElement {
  const box = h('div', { class: 'confirm', role: 'group', 'aria-labelledby': 'confirm-title' });
  const yes = h('button', { type: 'button', class: 'danger' }, `Point ${name} at ${to}`);
  const no = h('button', { type: 'button' }, 'Keep it as it is');
  yes.addEventListener('click', () => {
    yes.disabled = true;
    void attempt('Promoting', async () => {
      const alias = await api<Alias>('PUT', `/aliases/${enc(name)}`, { model: to });
      say(`Alias ${alias.name} now names ${alias.model}`);
      done();
    });
  });
  no.addEventListener('click', () => box.remove());
  fill(
    box,
    h('h3', { id: 'confirm-title' }, `Promote to ${name}?`),
    h(
      'dl',
      {},
      h('dt', {}, `${name} names now`),
      h('dd', {}, describe(from ? byId.get(from) : undefined, from)),
      h('dt', {}, 'It will name'),
      h('dd', {}, describe(byId.get(to), to)),
    ),
    name === 'default' ? h('p', {}, 'Requests that name no model (/embed, /distances) will use the new model.') : null,
    yes,
    no,
  );
  return box;
}

/** The aliases table and the promotion form, from the service's lists. */
async function show(list: HTMLElement, formBox: HTMLElement, reload: () => void): Promise<void> {
  const [aliasList, all] = await Promise.all([aliases(), models()]);
  const byId = new Map(all.map((m) => [m.id, m]));
  fill(
    list,
    aliasList.length === 0
      ? h('p', {}, 'No aliases yet.')
      : table(
          'Aliases',
          ['Alias', 'Model', 'Previous model', 'Updated'],
          aliasList.map((a) => [
            userText(a.name),
            userText(describe(byId.get(a.model), a.model)),
            a.previousModel ?? '–',
            when(a.updatedAt),
          ]),
        ),
  );
  const name = h('input', { type: 'text', name: 'alias', value: 'default', required: true, pattern: NAME });
  const model = options(
    h('select', { name: 'model' }),
    all.map((m) => ({ value: m.id, text: modelText(m) })),
  );
  const slot = h('div', {});
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'promote-title',
      onsubmit: (e) => {
        e.preventDefault();
        const current = aliasList.find((a) => a.name === name.value)?.model;
        if (current === model.value) return say(`${name.value} already names ${model.value}`);
        fill(slot, confirmation(name.value, current, model.value, byId, reload));
      },
    },
    h('h2', { id: 'promote-title' }, 'Promote a model'),
    h('div', { class: 'fields' }, field('Alias', name), field('Model', model)),
    h('button', { type: 'submit' }, 'Review the change'),
    slot,
  );
  fill(formBox, all.length === 0 ? null : form);
}

export function aliasesPage(main: HTMLElement): () => void {
  const list = h('div', { class: 'card' }, h('p', {}, 'Loading…'));
  const formBox = h('div', {});
  fill(main, h('h1', {}, 'Aliases'), list, formBox);
  // Listed now and again after each promotion, each time tried until it works.
  let stop: () => void = () => undefined;
  const load = () => {
    stop();
    stop = untilDone('Listing aliases', () => show(list, formBox, load));
  };
  load();
  return () => stop();
}
