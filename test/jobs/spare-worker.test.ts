// The spare training worker (JOB_SPARE_WORKER): jobs run in a worker started ahead of them, get
// the same model as in a worker started for them, and the next spare follows; a task whose heap
// cap is above the spare's does not take it; closing ends an idle spare. A job the spare does not
// take starts its own worker while its data is read (WaitingWorker).
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { SpareWorker, WaitingWorker } from '../../src/jobs/worker-pool.js';
import type { TrainTask, WorkerMessage } from '../../src/jobs/messages.js';
import { createDataset, makeTriplets, testApp, waitForJob } from '../helpers.js';

async function trainOnce(app: App, datasetId: string): Promise<{ W: number[][]; status: string }> {
  const r = await app.inject({
    method: 'POST',
    url: '/train',
    payload: { datasetId, outputDimension: 3, maxIterations: 40, seed: 4 },
  });
  const job = await waitForJob(app, r.json().id);
  const W = (await app.inject({ url: `/models/${job.modelId}/weights` })).json().W;
  return { W, status: job.status };
}

/** Waits (bounded) until no training worker is left, so the next spare has been asked for. */
async function idle(app: App): Promise<void> {
  const end = Date.now() + 30_000;
  while (app.services.runner.activeCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

t.test('jobs take the spare worker, one after another, with the same model as without', async (t) => {
  const triplets = makeTriplets(60, 6, 9);
  const plain = await testApp(t);
  const reference = await trainOnce(plain, await createDataset(plain, 6, triplets));
  t.equal(plain.services.runner.spareTaken, 0, 'no spare unless configured');
  t.equal(plain.services.runner.earlyTaken, 1, 'without one, the job started its worker while its data was read');
  t.equal(plain.services.runner.plannedTaken, 1, 'and that worker built its compute backend meanwhile');

  const app = await testApp(t, { config: { jobSpareWorker: true } });
  const id = await createDataset(app, 6, triplets);
  const first = await trainOnce(app, id);
  await idle(app);
  const second = await trainOnce(app, id);
  t.equal(first.status, 'succeeded');
  t.equal(second.status, 'succeeded');
  t.equal(
    app.services.runner.spareTaken,
    2,
    'both jobs ran in a spare (the second in the one started after the first)',
  );
  const pooled = app.config.compute.kernels !== 'js' && app.config.compute.threads > 1;
  t.equal(app.services.runner.plannedTaken, pooled ? 2 : 0, 'on the helper threads each spare started while idle');
  t.same(first.W, reference.W, 'the task reached the spare whole: the same model as a fresh worker trains');
  t.same(second.W, reference.W);
});

t.test('a task whose heap cap is above the spare one does not take it; close ends the idle spare', async (t) => {
  const spare = new SpareWorker(32);
  spare.warm();
  const task = { kind: 'train' } as TrainTask;
  const none = () => {};
  t.equal(spare.take(task, none, none, 64), null, 'a 64 MiB task leaves a 32 MiB spare waiting');
  await spare.close();
  t.equal(spare.take(task, none, none, 16), null, 'nothing waits after close');
  spare.warm();
  t.equal(spare.take(task, none, none, 16), null, 'and close is final');
});

t.test('a waiting worker stopped before its task exits and takes none', async (t) => {
  const w = new WaitingWorker(64);
  t.ok(w.alive, 'up while it waits');
  await w.stop();
  t.notOk(w.alive, 'gone after stop');
  const none = () => {};
  t.equal(w.run({ kind: 'train' } as TrainTask, none, none), null, 'no task reaches a stopped worker');
  await w.stop();
  t.pass('stop is idempotent');
});

t.test(
  'a waiting worker trains with the backend it planned, or builds another for a task unlike the plan',
  async (t) => {
    const app = await testApp(t);
    const triplets = makeTriplets(40, 5, 3);
    const r = await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId: await createDataset(app, 5, triplets), outputDimension: 2, maxIterations: 5, seed: 1 },
    });
    const job = await waitForJob(app, r.json().id);
    const data = Float32Array.from(triplets.flatMap((x) => [...x.anchor, ...x.positive, ...x.negative]));
    const compute = { kernels: 'wasm' as const, threads: 2, embedHelpers: 0, wide: 'auto' as const };
    const task = (memoryBytes: number): TrainTask => ({
      kind: 'train',
      jobId: job.id,
      params: job.params,
      triplets: { count: triplets.length, dimension: 5, data: data.slice() },
      compute,
      control: new SharedArrayBuffer(4),
      memoryBytes,
    });
    const trained = (w: WaitingWorker, tk: TrainTask) =>
      new Promise<{ planned: string | null; W: Float64Array | null }>((resolve, reject) => {
        let planned: string | null = null;
        const handle = w.run(
          tk,
          (m: WorkerMessage) => {
            if (m.type === 'computeReady') planned = m.planned;
            if (m.type === 'trained') resolve({ planned, W: m.W });
            if (m.type === 'failed') reject(new Error(m.message));
          },
          reject,
        );
        if (!handle) reject(new Error('the waiting worker took no task'));
      });
    const same = await trained(new WaitingWorker(64, { compute, memoryBytes: 64 << 20 }), task(64 << 20));
    const other = await trained(new WaitingWorker(64, { compute, memoryBytes: 32 << 20 }), task(64 << 20));
    const threads = await trained(new WaitingWorker(64, { compute }), task(64 << 20));
    const unlike = await trained(new WaitingWorker(64, { compute: { ...compute, threads: 3 } }), task(64 << 20));
    t.equal(same.planned, 'backend', 'the task like the plan takes the planned backend');
    t.equal(other.planned, 'none', 'a task with another allowance builds its own');
    t.equal(threads.planned, 'threads', "a plan without an allowance (a spare's) gives the task its helper threads");
    t.equal(unlike.planned, 'none', 'helper threads started for other settings are not used');
    for (const [name, r] of Object.entries({ other, threads, unlike }))
      t.same(r.W, same.W, `the same model either way (${name})`);
  },
);
