// What a careless or hostile teammate can store, shown by the console: markup and script in every
// name, label and item id (shown as text, never run), 200-character names without a space (they
// wrap; the page does not grow wider than the window and push ids and buttons out of sight), and
// bidi controls (U+202E in a model's name made its option in the promotion list read as another
// model's id, the real id backwards).
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { prepare, session, WAIT } from './session.js';

const MARKUP = `<img src=x onerror=alert(1)></script><script>alert(2)</script>"'><svg onload=alert(3)>`;
const LONG = 'W'.repeat(200);
// Its option read "mdl_VICTIM (3→2) · …": the victim's id forwards, this model's backwards.
const SPOOF = `\u202e${[...'mdl_VICTIMxxxxxxxxxx (3→2)'].reverse().join('')}`;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

async function checkPage(t: Test, page: Page, name: string, dialogs: string[]): Promise<void> {
  const found = await page.evaluate((bidi) => {
    const w = globalThis as any;
    const doc = w.document;
    const texts: string[] = [];
    const walker = doc.createTreeWalker(doc.body, 4 /* NodeFilter.SHOW_TEXT */);
    while (walker.nextNode()) texts.push(walker.currentNode.data);
    return {
      injected: doc.querySelectorAll('main img, main svg, main script, main iframe, main object').length,
      wide: doc.documentElement.scrollWidth - w.innerWidth,
      bidi: texts.filter((s) => new RegExp(bidi).test(s)).length,
      markup: texts.some((s) => s.includes('<img src=x onerror=alert(1)>')),
    };
  }, BIDI.source);
  t.equal(found.injected, 0, `${name}: no element from a stored name`);
  t.ok(found.markup, `${name}: the markup is shown as text`);
  t.ok(found.wide <= 0, `${name}: no wider than the window (${found.wide} px over)`);
  t.equal(found.bidi, 0, `${name}: no bidi control in the page's text`);
  t.same(dialogs, [], `${name}: no script ran`);
}

if (prepare())
  t.test('stored names are shown as text, wrap, and cannot reorder what is around them', async (t) => {
    const s = await session(t);
    const { page } = s;
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const ds = await s.call('POST', '/datasets', { name: MARKUP, dimension: 3 });
    await s.call('POST', '/datasets', { name: LONG, dimension: 3 });
    await s.call('POST', '/datasets', { name: SPOOF, dimension: 3 });
    const samples = [MARKUP, LONG, SPOOF, 'b'].flatMap((label, i) => [
      { label, vector: [i, 1, 0] },
      { label, vector: [i, 1.1, 0.1] },
    ]);
    await s.call('POST', `/datasets/${ds.id}/samples`, { samples });
    const m1 = await s.call('POST', '/models', { W: [[1, 0, 0]], name: MARKUP });
    await s.call('POST', '/models', { W: [[0, 1, 0]], name: LONG });
    const m3 = await s.call('POST', '/models', { W: [[0, 0, 1]], name: SPOOF });
    await s.call('PUT', '/aliases/x.y', { model: m3.id });
    const g = await s.call('POST', '/galleries', { name: MARKUP, model: m1.id });
    await s.call('POST', `/galleries/${g.id}/items`, {
      items: samples.map((x, i) => ({ id: `${x.label}-${i}`, label: x.label, input: x.vector })),
    });
    await s.call('POST', '/train', { datasetId: ds.id, outputDimension: 1, modelName: MARKUP });

    await page.goto(`${s.server.base}/console/#/jobs`);
    await page.waitForSelector('caption:text-is("Jobs, newest first")', WAIT);
    await checkPage(t, page, 'jobs', dialogs);

    await page.click('nav a[href="#/models"]');
    await page.waitForSelector(`select[name=modelA] option[value="${m3.id}"]`, { state: 'attached', ...WAIT });
    await page.selectOption('select[name=modelA]', m1.id);
    await page.selectOption('select[name=modelB]', m3.id);
    await page.selectOption('select[name=datasetId]', ds.id);
    await page.click('form[aria-labelledby=eval-title] button');
    await page.waitForSelector('#evaluation figure.chart canvas', WAIT);
    await checkPage(t, page, 'models, with an evaluation', dialogs);

    await page.click('nav a[href="#/aliases"]');
    await page.waitForSelector(`select[name=model] option[value="${m3.id}"]`, { state: 'attached', ...WAIT });
    await page.fill('input[name=alias]', 'default');
    await page.selectOption('select[name=model]', m3.id);
    await page.click('form[aria-labelledby=promote-title] button[type=submit]');
    await page.waitForSelector('.confirm', WAIT);
    await checkPage(t, page, 'aliases, with a confirmation', dialogs);

    await page.click('nav a[href="#/data"]');
    await page.waitForSelector(`select[name=gallery] option[value="${g.id}"]`, { state: 'attached', ...WAIT });
    await page.getByRole('button', { name: `Labels of ${MARKUP}`, exact: true }).click();
    await page.waitForSelector('#labels tbody tr', WAIT);
    await page.selectOption('select[name=gallery]', g.id);
    await page.fill('textarea[name=vector]', '[0, 1, 0]');
    await page.fill('input[name=k]', '8');
    await page.click('form[aria-labelledby=search-title] button');
    await page.waitForSelector('#search-results tbody tr', WAIT);
    await checkPage(t, page, 'datasets and galleries, with labels and a search', dialogs);
    t.same(s.problems, [], 'no script errors and no CSP reports');
  });
