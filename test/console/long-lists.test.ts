// Lists longer than one page of the API (1,000 items): the console read one page of models,
// datasets, galleries and aliases, and 100 jobs and labels, and said nothing of the rest. It now
// reads models, datasets, galleries and aliases to the end through nextCursor (every table and
// choice has all of them), and lists the newest jobs and the first labels with a note and a button
// that shows more. ROLE=api: the jobs stay queued, nothing trains.
import t from 'tap';
import type { Page } from 'playwright-core';
import { holds, prepare, session, WAIT } from './session.js';

const OVER = 1001;
const LABELS = 101;

/** `count` calls of `make(i)`, twenty at a time. */
async function many<T>(count: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) => make(i + j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

const rows = (page: Page, caption: string) => page.locator(`table:has(caption:text-is("${caption}")) tbody tr`).count();
const optionCount = (page: Page, select: string) => page.locator(`${select} option`).count();

if (prepare())
  t.test('lists past one page show every item, or the newest with a way to see more', async (t) => {
    const s = await session(t, { ROLE: 'api', MAX_QUEUED_JOBS: '1000' });
    const { page } = s;
    const models = await many(OVER, (i) => s.call('POST', '/models', { W: [[1, 0]], name: `m${i}` }));
    const first = models[0].id as string;
    // and `default`, which the first model set
    await many(OVER - 1, (i) => s.call('PUT', `/aliases/a${i}`, { model: first }));
    await many(OVER - 1, (i) => s.call('POST', '/galleries', { name: `g${i}`, model: first }));
    await many(OVER - 1, () => s.call('POST', '/datasets', { dimension: 2 }));
    const ds = await s.call('POST', '/datasets', { name: 'labelled', dimension: 2 });
    const samples = Array.from({ length: LABELS }, (_, i) => ({ label: `person-${i}`, vector: [i, 1] }));
    await s.call('POST', `/datasets/${ds.id}/samples`, { samples });
    const triplets = [{ anchor: [1, 0], positive: [1, 0.1], negative: [0, 1] }];
    await s.call('POST', `/datasets/${ds.id}/triplets`, { triplets });
    await s.call('POST', '/galleries', { name: 'last', model: models[OVER - 1].id });
    await many(101, () => s.call('POST', '/train', { datasetId: ds.id, outputDimension: 1 }));

    await page.goto(`${s.server.base}/console/#/models`);
    await page.waitForSelector('caption:text-is("Models, newest first")', WAIT);
    t.equal(await rows(page, 'Models, newest first'), OVER, 'every model in the table');
    t.equal(await optionCount(page, 'select[name=modelA]'), OVER, 'every model to evaluate');
    t.ok(await page.locator(`td:text-is("${first}")`).count(), 'the oldest model is listed');

    await page.click('nav a[href="#/aliases"]');
    await page.waitForSelector('caption:text-is("Aliases")', WAIT);
    t.equal(await rows(page, 'Aliases'), OVER, 'every alias');
    t.equal(await optionCount(page, 'select[name=model]'), OVER, 'every model to promote');

    await page.click('nav a[href="#/data"]');
    await page.waitForSelector('caption:text-is("Galleries")', WAIT);
    t.equal(await rows(page, 'Datasets'), OVER, 'every dataset');
    t.equal(await rows(page, 'Galleries'), OVER, 'every gallery');
    t.equal(await optionCount(page, 'select[name=gallery]'), OVER, 'every gallery to search');
    await page.click('button:text-is("Labels of labelled")');
    await page.waitForSelector('#labels caption', WAIT);
    t.equal(await page.textContent('#labels caption'), 'Labels of labelled (the first 100)', 'the caption says so');
    t.equal(await page.locator('#labels tbody tr').count(), 100);
    const moreLabels = page.locator('#labels button:text-is("Show 100 more labels")');
    t.equal(await moreLabels.count(), 1, 'a button shows more labels');
    if ((await moreLabels.count()) === 1) {
      await moreLabels.click();
      await page.waitForSelector('#labels caption:text-is("Labels of labelled")', WAIT);
      t.equal(await page.locator('#labels tbody tr').count(), LABELS, 'every label, after one click');
      t.equal(await page.locator('#labels button').count(), 0, 'nothing more to show');
    }

    await page.click('nav a[href="#/jobs"]');
    await page.waitForSelector('caption:text-is("Jobs, newest first")', WAIT);
    await page.waitForSelector('select[name=datasetId] option', { state: 'attached', ...WAIT });
    t.equal(await optionCount(page, 'select[name=datasetId]'), OVER, 'every dataset to train on');
    const older = page.locator('button:text-is("Show 100 older jobs")');
    const offered = await holds(older.waitFor({ timeout: 15_000 }));
    t.ok(offered, 'a button shows older jobs');
    if (!offered) return;
    t.match(await page.textContent('p:has(> button:text-is("Show 100 older jobs"))'), /newest 100 jobs/);
    t.equal(await rows(page, 'Jobs, newest first'), 100, 'the newest 100 jobs');
    await older.click();
    await page.waitForSelector('button:text-is("Show 100 older jobs")', { state: 'hidden', ...WAIT });
    t.equal(await rows(page, 'Jobs, newest first'), 101, 'every job, after one click');
    t.match(await page.textContent('h2:has-text("Queue and history")'), /\(101 queued or running\)/);
    t.same(s.problems, [], 'no script errors');
  });
