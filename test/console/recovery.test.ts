// The console while the service goes away and comes back (stopped with SIGTERM, started again on
// its port and data): each page says clearly that the service cannot be reached, loads what it
// could not load once the service is back, and then no longer shows the error. ROLE=api: the job
// stays queued, so its page keeps following the stream across the restart.
import t from 'tap';
import type { Page } from 'playwright-core';
import { dropFile } from './browser.js';
import { holds, noError, prepare, queuedJob, session, WAIT } from './session.js';

// (a poll during the shutdown may first be refused with 503: the service's own message)
const unreachable = (page: Page, what = '') =>
  holds(page.waitForSelector(`#status.error:has-text("${what}cannot reach the service")`, WAIT));

if (prepare())
  t.test('every page recovers when the service comes back', async (t) => {
    const s = await session(t, { ROLE: 'api' });
    const { page } = s;
    const { datasetId, jobId } = await queuedJob(s);
    await s.call('POST', '/models', { W: [[1, 0]], name: 'imported' });
    await page.goto(`${s.server.base}/console/#/jobs/${jobId}`);
    await page.waitForSelector('dt:text-is("Status") + dd:text-is("queued")', WAIT);

    // A page already shown: the job's stream, then the jobs page's poll.
    for (const [name, hash] of [
      ['the job page', `#/jobs/${jobId}`],
      ['the jobs page', '#/jobs'],
    ]) {
      await page.evaluate((h) => ((globalThis as any).location.hash = h), hash);
      await s.stop();
      t.ok(await unreachable(page), `${name}: says it cannot reach the service while it is down`);
      await s.start();
      t.ok(await noError(page), `${name}: the error goes once the service answers again`);
    }

    // A page opened while the service is down.
    for (const [name, hash, loaded, what] of [
      ['models', '#/models', 'caption:text-is("Models, newest first")', 'Listing models failed: '],
      ['aliases', '#/aliases', 'td :text-is("default")', 'Listing aliases failed: '],
      ['data', '#/data', 'caption:text-is("Datasets")', 'Listing datasets and galleries failed: '],
      ['jobs', '#/jobs', 'caption:text-is("Jobs, newest first")', ''],
    ]) {
      // from another page that loads once, so no poll of its own reports the outage
      const [before, shown] =
        hash === '#/aliases'
          ? ['#/models', 'caption:text-is("Models, newest first")']
          : ['#/aliases', 'td :text-is("default")'];
      await page.evaluate((h) => ((globalThis as any).location.hash = h), before);
      await page.waitForSelector(shown, WAIT);
      await s.stop();
      await page.evaluate((h) => ((globalThis as any).location.hash = h), hash);
      t.ok(await unreachable(page, what), `${name}: says it cannot reach the service while it is down`);
      await s.start();
      t.ok(await holds(page.waitForSelector(loaded, WAIT)), `${name}: loaded once the service is back`);
      t.ok(await noError(page), `${name}: and the error is gone`);
    }

    // An upload cut off by the service going away says so where it was started.
    await page.evaluate(() => ((globalThis as any).location.hash = '#/data'));
    await page.selectOption('select[name=target]', `dataset:${datasetId}`);
    await s.stop();
    await dropFile(page, 'lost.ndjson', '{"vector": [1, 0], "label": "a"}\n');
    t.ok(await unreachable(page), 'the upload: says it cannot reach the service');
    t.match(
      await page.textContent('#drop .note'),
      /lost\.ndjson was not uploaded/,
      'and the note does not say "Sending…"',
    );
    await s.start();
    t.same(s.problems, [], 'no script errors');
  });
