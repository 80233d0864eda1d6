// The web console in a real browser (Debian's Chromium through playwright-core) against a real
// server process, with and without API_KEYS: it trains a job and watches its curve grow, draws a
// ROC curve from an evaluation, promotes a model and sees /embed answer with it, enrols and
// searches a gallery; axe-core finds no serious or critical violation on any page, the CSP is
// never violated, and the key never appears in a URL. Screenshots: artifacts/console-screenshots.
// Without /usr/bin/chromium the test skips, but fails under CI=true.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { axe, dropFile, screenshot, SCREENSHOTS } from './console/browser.js';
import { binarySamples, DIM, itemsNdjson, samplesNdjson } from './console/data.js';
import { prepare, session, WAIT } from './console/session.js';

const KEY = 'console-test-key-5f2c';

// The built server (as `npm start` builds it) and Chromium, or the file's tests planned away.
if (prepare()) {
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
  t.test('without API_KEYS', (t) => consoleFlow(t, undefined));
  t.test('with API_KEYS', (t) => consoleFlow(t, KEY));
}

const points = async (page: Page, selector: string) => Number(await page.getAttribute(selector, 'data-points'));

async function consoleFlow(t: Test, key: string | undefined): Promise<void> {
  const mode = key ? 'key' : 'open';
  // Only the refusals the flow provokes (a 401 before the key is typed, a 404) are not problems.
  const s = await session(t, key ? { API_KEYS: key } : {}, { ignore: /status of 40[14]/ });
  const { page, problems, call, server } = s;
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  const pending = new Set<string>();
  page.on('request', (r) => pending.add(`${r.method()} ${r.url()}`));
  page.on('requestfinished', (r) => pending.delete(`${r.method()} ${r.url()}`));
  const timeline: string[] = [];
  const t0 = Date.now();
  const note = (what: string) => timeline.push(`${Date.now() - t0} ${what}`);
  page.on('request', (r) => note(`request ${r.method()} ${r.url()}`));
  page.on('response', (r) => note(`response ${r.status()} ${r.url()}`));
  page.on('requestfailed', (r) => note(`failed ${r.url()} ${r.failure()?.errorText}`));
  page.on('console', (m) => note(`console ${m.type()} ${m.text()}`));
  page.on('framenavigated', (f) => note(`navigated ${f.url()}`));
  page.on('requestfailed', (r) => pending.delete(`${r.method()} ${r.url()}`));
  // A wait that times out says what the page shows, and which requests never finished.
  const diagnose = async (e: Error): Promise<never> => {
    await screenshot(page, `${mode}-failed`);
    const body = await page.textContent('body');
    throw new Error(
      `${e.message}\nerrors: ${problems.join('\n')}\npending: ${[...pending].join(', ')}\n${body}\n${timeline.slice(-60).join('\n')}`,
    );
  };
  const checkAxe = async (name: string) => {
    const bad = (await axe(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
    t.same(
      bad.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`),
      [],
      `axe: no serious or critical violations on ${name}`,
    );
  };

  // The console's own headers, and its files open without a key.
  const res = await fetch(`${server.base}/console/`);
  t.equal(res.status, 200, '/console/ needs no key');
  const csp = res.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'/);
  t.notMatch(csp, /unsafe-inline/);
  t.match(csp, /frame-ancestors 'none'/);
  t.equal(res.headers.get('x-frame-options'), 'DENY');
  t.equal(res.headers.get('x-content-type-options'), 'nosniff');

  await page.goto(`${server.base}/console`);
  await page.waitForSelector('h1:has-text("Jobs")');
  if (key) {
    // The first API call is refused: the key form says so; the key is typed once.
    await page.waitForSelector('#key .error', WAIT);
    await page.fill('#api-key', key);
    await page.click('#key button[type=submit]');
    await page.waitForSelector('#key .error', { state: 'detached' });
  }

  // Datasets: create one, drop an NDJSON file of samples on the page, see its labels.
  await page.click('nav a[href="#/data"]');
  await page.fill('form[aria-label="New dataset"] input[name=name]', 'faces');
  await page.fill('form[aria-label="New dataset"] input[name=dimension]', String(DIM));
  await page.click('form[aria-label="New dataset"] button');
  await page.waitForSelector('td:has-text("faces")', WAIT);
  const dataset = (await call('GET', '/datasets')).items[0];
  await page.selectOption('select[name=target]', `dataset:${dataset.id}`);
  await dropFile(page, 'samples.ndjson', samplesNdjson(12, 16));
  await page.waitForSelector('#drop .note:has-text("192 added")', WAIT);
  t.equal(await page.$eval('#drop progress', (p: any) => p.value / p.max), 1);
  // A binary file: per sample an int32 label, then DIM float32 values, little-endian.
  await dropFile(page, 'more.bin', binarySamples(99, 8));
  await page.waitForSelector('#drop .note:has-text("more.bin: 8 added")', WAIT);
  await page.click('button:has-text("Labels of faces")');
  await page.waitForSelector('#labels caption:has-text("Labels of faces")');
  t.equal(await page.locator('#labels tbody tr').count(), 13, 'the labels table lists 13 labels');
  t.equal(await page.locator('#labels tr:has(td :text-is("99")) td').nth(1).textContent(), '8');

  // Jobs: train a small model and watch its curve grow over the event stream.
  const train = async (iterations: number, name: string) => {
    await page.click('nav a[href="#/jobs"]');
    await page.waitForSelector(`select[name=datasetId] option[value="${dataset.id}"]`, { state: 'attached' });
    await page.selectOption('select[name=datasetId]', dataset.id);
    await page.fill('input[name=outputDimension]', '8');
    await page.selectOption('select[name=optimizer]', 'adam');
    await page.fill('input[name=maxIterations]', String(iterations));
    await page.fill('input[name=modelName]', name);
    await page.click('form[aria-labelledby=train-title] button');
    await page.waitForSelector('h1:has-text("Job job_")', WAIT);
  };
  await train(4000, 'strong');
  const lossChart = 'figure[data-chart=training-loss]';
  await page
    .waitForFunction(
      (s) => Number((globalThis as any).document.querySelector(s)?.getAttribute('data-points')) >= 1,
      lossChart,
      WAIT,
    )
    .catch(diagnose);
  const first = await points(page, lossChart);
  await page.waitForSelector('dd:text-is("succeeded")', WAIT).catch(diagnose);
  const last = await points(page, lossChart);
  t.ok(last > first, `the loss curve grew while the job ran (${first} → ${last} points)`);
  t.ok((await points(page, 'figure[data-chart=validation]')) > 0, 'validation curve drawn');
  t.ok(await page.isVisible(`${lossChart} canvas`), 'the loss curve is a canvas');
  t.match(await page.locator('dt:text-is("Stop reason") + dd').textContent(), /^[a-z_]+$/, 'the stop reason is shown');
  await screenshot(page, `${mode}-job`);
  await checkAxe('the job page');
  await train(30, 'weak');
  await page.waitForSelector('dd:text-is("succeeded")', WAIT).catch(diagnose);
  await page.click('a:has-text("All jobs")');
  await page.waitForSelector('caption:has-text("Jobs, newest first")', WAIT);
  t.equal(await page.locator('tbody tr').count(), 2, 'the history lists both jobs');
  await screenshot(page, `${mode}-jobs`);
  await checkAxe('the jobs page');
  const models = (await call('GET', '/models')).items as { id: string; name: string; normalize: boolean }[];
  const strong = models.find((m) => m.name === 'strong')!.id;
  const weak = models.find((m) => m.name === 'weak')!.id;

  // Models: evaluate both on the dataset; the ROC curves are drawn, with the chosen FAR's threshold.
  await page.click('nav a[href="#/models"]');
  // the jobs table also has a row naming each model: find the models table's own
  const modelsTable = page.locator('table:has(caption:has-text("Models, newest first"))');
  await modelsTable.waitFor(WAIT);
  for (const m of models) {
    const row = modelsTable.locator(`tr:has(td:text-is("${m.id}"))`);
    await row.waitFor(WAIT);
    // textContent waits for the cell, so a table re-rendered by its poll between two reads is read again
    const served = await row.locator('td').nth(3).textContent(WAIT);
    t.equal(served, m.normalize ? 'unit norm' : 'plain', `${m.name}: the embeddings it serves`);
  }
  await page.waitForSelector(`select[name=modelA] option[value="${strong}"]`, { state: 'attached', ...WAIT });
  await page.selectOption('select[name=modelA]', strong);
  await page.selectOption('select[name=modelB]', weak);
  await page.waitForSelector(`select[name=datasetId] option[value="${dataset.id}"]`, { state: 'attached' });
  await page.fill('input[name=far]', '0.05');
  await page.click('form[aria-labelledby=eval-title] button');
  await page.waitForSelector('#evaluation figure.chart canvas', WAIT);
  t.ok((await points(page, '#evaluation figure.chart')) > 10, 'the ROC curves have points');
  const thresholdRow = await page.locator('#evaluation tr:has-text("Threshold for FAR 0.05")').textContent();
  t.match(thresholdRow, /accept distance ≤ [0-9.]+/, 'the threshold for the chosen FAR is shown');
  t.ok(await page.isVisible('#evaluation tr:has-text("EER")'));
  await screenshot(page, `${mode}-models`);
  await checkAxe('the models page');

  // Aliases: promote, confirm what changes, and /embed answers with the promoted model.
  const promote = async (model: string) => {
    const current = await call('GET', '/aliases').then((r) => r.items.find((a: any) => a.name === 'default')?.model);
    await page.click('nav a[href="#/aliases"]');
    await page.waitForSelector(`select[name=model] option[value="${model}"]`, { state: 'attached', ...WAIT });
    await page.fill('input[name=alias]', 'default');
    await page.selectOption('select[name=model]', model);
    await page.click('form[aria-labelledby=promote-title] button[type=submit]');
    await page.waitForSelector('.confirm');
    t.match(
      await page.locator('.confirm dt:has-text("names now") + dd').textContent(),
      current ?? 'nothing (a new alias)',
      'the confirmation shows what default names now',
    );
    t.match(await page.locator('.confirm dt:has-text("will name") + dd').textContent(), model, 'and what it will name');
    if (current) await screenshot(page, `${mode}-aliases-confirm`);
    await page.click(`.confirm button:has-text("Point default at ${model}")`);
    await page.waitForSelector(`#status:has-text("Alias default now names ${model}")`, WAIT);
    const embedded = await call('POST', '/embed', { inputs: [Array(DIM).fill(0.5)] });
    t.equal(embedded.model, model, `/embed answers with ${model}`);
  };
  await promote(weak);
  await promote(strong);
  await screenshot(page, `${mode}-aliases`);
  await checkAxe('the aliases page');

  // Galleries: create one, enrol items by dropping a file, search for one item's neighbours.
  await page.click('nav a[href="#/data"]');
  await page.waitForSelector(`form[aria-label="New gallery"] option[value="${strong}"]`, {
    state: 'attached',
    ...WAIT,
  });
  await page.selectOption('form[aria-label="New gallery"] select[name=model]', strong);
  await page.fill('form[aria-label="New gallery"] input[name=name]', 'staff');
  await page.click('form[aria-label="New gallery"] button');
  await page.waitForSelector('td:has-text("staff")', WAIT);
  const gallery = (await call('GET', '/galleries')).items[0];
  await page.selectOption('select[name=target]', `gallery:${gallery.id}`);
  await dropFile(page, 'staff.ndjson', itemsNdjson(6, 4));
  await page.waitForSelector('#drop .note:has-text("24 added")', WAIT);
  await page.waitForSelector(`select[name=gallery] option[value="${gallery.id}"]`, { state: 'attached' });
  await page.selectOption('select[name=gallery]', gallery.id);
  await page.selectOption('select[name=query-row]', { label: 'item-2-1 (label 2)' });
  await page.click('form[aria-labelledby=search-title] button');
  await page.waitForSelector('#search-results tbody tr', WAIT);
  const hits: string[][] = await page.$$eval('#search-results tbody tr', (trs: any[]) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)),
  );
  t.equal(hits.length, 5, 'five neighbours');
  t.same(hits[0].slice(0, 3), ['1', 'item-2-1', '2'], 'the nearest item is the item itself');
  t.equal(Number(hits[0][3]), 0, 'at distance 0');
  t.same(
    hits.slice(1, 4).map((h) => h[2]),
    ['2', '2', '2'],
    'then the other items of its identity',
  );
  const distances = hits.map((h) => Number(h[3]));
  t.same(
    distances,
    [...distances].sort((a, b) => a - b),
    'nearest first',
  );
  await screenshot(page, `${mode}-data`);
  await checkAxe('the datasets and galleries page');

  t.same(problems, [], 'no script errors and no CSP violations');
  if (key)
    t.notOk(
      urls.some((u) => u.includes(key)),
      'the key never appears in a URL',
    );
}
