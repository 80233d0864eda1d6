// The console's hash router against addresses a link can carry: names of Object.prototype's
// members (#/__proto__, #/constructor) and malformed escapes (#/jobs/%E0). Each shows a page, and
// the navigation afterwards still works.
import t from 'tap';
import type { Page } from 'playwright-core';
import { holds, prepare, session } from './session.js';

// A page shows its heading as soon as its script has run: a bounded wait, false when it never does.
const shows = (page: Page, selector: string) => holds(page.waitForSelector(selector, { timeout: 15_000 }));

if (prepare())
  t.test('any hash shows a page, and the console keeps working after it', async (t) => {
    const s = await session(t);
    const { page } = s;
    for (const hash of ['#/__proto__', '#/constructor', '#/toString', '#/hasOwnProperty', '#/jobs/%E0%A4%A', '#/%']) {
      await page.goto('about:blank');
      await page.goto(`${s.server.base}/console/${hash}`);
      t.ok(await shows(page, 'main h1'), `${hash}: the page has a heading`);
      await page.click('nav a[href="#/models"]');
      t.ok(await shows(page, 'main h1:text-is("Models")'), `${hash}: then the Models link opens its page`);
    }
    t.same(s.problems, [], 'no script errors');
  });
