// The key form with API_KEYS set, as a person uses it: the key is typed on the jobs page, which
// polls the service (a 401 every 2 s until the key is in) and must not wipe what is being typed;
// once used, the key is in sessionStorage only, never in the page's HTML.
import t from 'tap';
import { prepare, session, WAIT } from './session.js';

const KEY = 'console-red-team-key-7e31';

if (prepare())
  t.test('a key typed while the page polls is kept, and stays out of the HTML', async (t) => {
    const s = await session(t, { API_KEYS: KEY });
    const { page } = s;
    await page.goto(`${s.server.base}/console/`);
    await page.waitForSelector('#key .error', WAIT);
    t.match(await page.textContent('#key .error'), /needs Authorization: Bearer/, 'the 401 is shown');
    await page.click('#api-key');
    await page.keyboard.type(KEY.slice(0, 10));
    // two more refusals of the jobs page's poll while the person looks for the rest of the key
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.status() === 401, WAIT);
    t.equal(await page.inputValue('#api-key'), KEY.slice(0, 10), 'what was typed is still there');
    t.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'api-key', 'and has focus');
    await page.keyboard.type(KEY.slice(10));
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=No jobs yet.', WAIT);
    t.notOk(await page.isVisible('#key .error'), 'the key works');

    t.notOk((await page.content()).includes(KEY), 'the key is not in the page HTML (no value attribute)');
    const stored = await page.evaluate(() => {
      const w = globalThis as any;
      return { session: Object.values({ ...w.sessionStorage }), local: Object.values({ ...w.localStorage }) };
    });
    t.same(stored, { session: [KEY], local: [] }, 'sessionStorage only');

    // A wrong key is refused clearly, and the form still takes the right one.
    await page.fill('#api-key', 'not-the-right-key-000');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#key .error:has-text("the API key is not valid")', WAIT);
    await page.fill('#api-key', KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#key .error', { state: 'detached', ...WAIT });
    t.same(s.problems, [], 'no script errors');
  });

if (prepare())
  t.test('a 401 to a request sent before the key was given does not ask for the key again', async (t) => {
    const s = await session(t, { API_KEYS: KEY });
    const { page } = s;
    // Hold every keyless request of the jobs list until the key has been given: its 401 comes late.
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let held = 0;
    await page.route('**/jobs?*', async (route) => {
      if (route.request().headers().authorization === undefined) {
        held++;
        await released;
      }
      await route.continue();
    });
    await page.goto(`${s.server.base}/console/`);
    for (let i = 0; held === 0 && i < 600; i++) await new Promise((r) => setTimeout(r, 50));
    t.ok(held > 0, 'a keyless poll is in flight');
    await page.fill('#api-key', KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=No jobs yet.', WAIT);
    const late = page.waitForResponse((r) => r.status() === 401, WAIT);
    release();
    await late;
    // the late refusal is handled in the same task as its reply's body; one more turn for the DOM
    await page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
    t.notOk(await page.isVisible('#key .error'), 'the key just given is not asked for again');
    t.same(s.problems, [], 'no script errors');
  });
