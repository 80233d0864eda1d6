// Jobs: the queue and history, and one job followed live (curves, phase, ETA, stop reason, cancel).
import { api, enc } from '../api.js';
import { lineChart } from '../charts.js';
import { fill, h, say, settle, table } from '../dom.js';
import { duration, num, when } from '../format.js';
import { followJob } from '../sse.js';
import { TERMINAL, type Job, type Progress } from '../types.js';
import { trainForm } from './train-form.js';
import { attempt, every, listFirst } from './util.js';

const jobLink = (j: Job) => h('a', { href: `#/jobs/${enc(j.id)}` }, j.id);
const NO_PROGRESS: Progress = { iteration: 0, maxIterations: 0, activeFraction: 0, elapsedMs: 0 };
const progressText = (p: Progress | null) => (p ? `${p.iteration} / ${p.maxIterations}` : '–');

/** Jobs listed at first, and how many more each "Show older jobs" adds (the history only grows). */
const JOBS_STEP = 100;

export function jobsPage(main: HTMLElement): () => void {
  const list = h('div', {});
  let shown = JOBS_STEP;
  // Outside what each poll redraws, so the button keeps the focus it was given.
  const note = h('span', {});
  const older = h('button', { type: 'button' }, `Show ${JOBS_STEP} older jobs`);
  const more = h('p', { class: 'more', hidden: true }, note, ' ', older);
  const train = trainForm();
  fill(main, h('h1', {}, 'Jobs'), train.el, h('div', { class: 'card' }, list, more));
  const load = async () => {
    const page = await listFirst<Job>('/jobs', shown);
    const jobs = page.items;
    const rows = jobs.map((j) => [
      jobLink(j),
      j.kind,
      h('span', { class: `status ${j.status}` }, j.status),
      j.datasetId ?? '–',
      progressText(j.progress),
      num(j.progress?.loss),
      j.modelId ?? '–',
      when(j.createdAt),
    ]);
    const queued = jobs.filter((j) => j.status === 'queued' || j.status === 'running').length;
    const among = page.more ? ` of the newest ${jobs.length}` : '';
    fill(
      list,
      h('h2', {}, `Queue and history (${queued} queued or running${among})`),
      jobs.length === 0
        ? h('p', {}, 'No jobs yet.')
        : table(
            'Jobs, newest first',
            ['Job', 'Kind', 'Status', 'Dataset', 'Iteration', 'Loss', 'Model', 'Created'],
            rows,
          ),
    );
    more.hidden = !page.more;
    fill(note, `Showing the newest ${jobs.length} jobs; older ones are not listed.`);
  };
  older.addEventListener('click', () => {
    shown += JOBS_STEP;
    void attempt('Listing older jobs', load);
  });
  const stop = every(2000, load);
  return () => {
    stop();
    train.stop();
  };
}

function dl(pairs: [string, unknown][]): HTMLDListElement {
  return h(
    'dl',
    {},
    ...pairs.flatMap(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '–')),
    ]),
  );
}

export function jobPage(main: HTMLElement, id: string): () => void {
  const controller = new AbortController();
  const summary = h('div', { class: 'summary' });
  const params = h('div', {});
  const cancel = h('button', { type: 'button', class: 'danger', hidden: true }, 'Cancel job');
  const loss = lineChart('Training loss', ['loss']);
  const grad = lineChart('Gradient norm', ['gradient norm']);
  const validation = lineChart('Validation', ['validation loss', 'precision@1', 'MAP@R'], 'validation iteration');
  let latest: Progress | undefined;
  let job: Job | undefined;
  let ended = false;

  const render = () => {
    if (!job) return;
    const p = latest ?? job.progress ?? NO_PROGRESS;
    fill(
      summary,
      dl([
        ['Status', job.status],
        ['Phase', p.phase ?? '–'],
        ['Iteration', p === NO_PROGRESS ? '–' : progressText(p)],
        ['Loss', num(p.loss)],
        ['Elapsed', duration(p.elapsedMs)],
        ['ETA', TERMINAL.has(job.status) ? '–' : duration(p.etaMs)],
        ['Stop reason', job.metrics?.stopReason ?? '–'],
        ['Error', job.error ? `${job.error.code}: ${job.error.message}` : '–'],
        ['Warning', p.warning ?? '–'],
        ['Model', job.modelId ?? '–'],
      ]),
    );
    cancel.hidden = TERMINAL.has(job.status);
    fill(params, h('h2', {}, 'Parameters'), dl(Object.entries(job.params ?? job.metrics ?? {})));
  };

  cancel.addEventListener('click', () => {
    void attempt('Cancelling', async () => {
      job = await api<Job>('POST', `/jobs/${enc(id)}/cancel`);
      say(`Job ${id} cancelled`);
      render();
    });
  });

  fill(
    main,
    h('h1', {}, `Job ${id}`),
    h('p', {}, h('a', { href: '#/jobs' }, 'All jobs')),
    h('section', { class: 'card', 'aria-label': 'Job state' }, summary, cancel),
    h('section', { class: 'charts', 'aria-label': 'Curves' }, loss.el, grad.el, validation.el),
    h('section', { class: 'card', 'aria-label': 'Parameters' }, params),
  );

  // What failed while following the job; a point or a status from the service means it works again.
  const STREAM = 'Job stream';
  const LOADING = 'Loading the job';
  const follower = {
    onPoint: (p: Progress) => {
      settle(STREAM, LOADING);
      latest = p;
      // Points before the first step (loading, initialising) carry no training figures yet.
      if (p.iteration > 0 && (p.loss !== undefined || p.gradientNorm !== undefined)) {
        loss.add(p.iteration, [p.loss]);
        grad.add(p.iteration, [p.gradientNorm]);
      }
      if (p.validationIteration !== undefined)
        validation.add(p.validationIteration, [p.validationLoss, p.precisionAt1, p.mapAtR]);
      render();
    },
    onStatus: (j: Job) => {
      settle(STREAM, LOADING);
      job = j;
      render();
    },
    onError: (m: string) => say(`${STREAM}: ${m}`, 'error', STREAM),
  };
  // Loads the job and follows it to its end; a failure (the service restarting, shedding load) is
  // shown and tried again, the charts keeping the points they have (they ignore repeats).
  void (async () => {
    while (!controller.signal.aborted && !ended) {
      await attempt(LOADING, async () => {
        try {
          job = await api<Job>('GET', `/jobs/${enc(id)}`, undefined, controller.signal);
          render();
          await followJob(id, follower, controller.signal);
          ended = true;
        } catch (e) {
          if (!controller.signal.aborted) throw e; // the page was left: nothing to report
        }
      });
      if (!ended) await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => {
    controller.abort();
    loss.destroy();
    grad.destroy();
    validation.destroy();
  };
}
