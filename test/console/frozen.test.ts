// The console while the service takes connections and answers nothing: its process frozen
// (SIGSTOP), as after a laptop's sleep left a connection dead or behind a proxy that holds it. The
// jobs page's poll and a job's stream must not wait for good showing old figures as current: they
// say the service is not answering, and recover once it answers again (SIGCONT). ROLE=api: the job
// stays queued, so its stream stays open.
import t from 'tap';
import type { Page } from 'playwright-core';
import { holds, noError, prepare, queuedJob, session, WAIT } from './session.js';

const unanswered = (page: Page) =>
  holds(page.waitForSelector('#status.error:has-text("cannot reach the service")', WAIT));

if (prepare())
  t.test('a frozen service is reported, and the pages recover when it thaws', async (t) => {
    const s = await session(t, { ROLE: 'api' });
    const { page } = s;
    const { jobId } = await queuedJob(s);

    await page.goto(`${s.server.base}/console/#/jobs/${jobId}`);
    await page.waitForSelector('dt:text-is("Status") + dd:text-is("queued")', WAIT);
    s.freeze();
    t.ok(await unanswered(page), 'the job page: says the service is not answering');
    s.thaw();
    t.ok(await noError(page), 'the job page: the error goes once it answers');

    await page.click('a:has-text("All jobs")');
    await page.waitForSelector('caption:text-is("Jobs, newest first")', WAIT);
    s.freeze();
    t.ok(await unanswered(page), 'the jobs page: says the service is not answering');
    s.thaw();
    t.ok(await noError(page), 'the jobs page: the error goes once it answers');
    t.same(s.problems, [], 'no script errors');
  });
