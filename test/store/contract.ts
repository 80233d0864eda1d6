// The store contract: what every Store backend must do, written once. A backend's test file calls
// storeContract with a way to open a fresh store and to reopen one after it closed (a restart or a
// crash); nothing here knows which backend it runs on.
import type { Test } from 'tap';
import { TRAINING_DEFAULTS, type TrainingParams } from '../../src/domain/training.js';
import { DomainError } from '../../src/domain/errors.js';
import type { Label, ModelRecord, NewModel, Store } from '../../src/store/types.js';
import { aliasContract } from './contract-aliases.js';
import { changeFeedContract } from './contract-changes.js';
import { galleryContract } from './contract-galleries.js';
import { jobEventsContract } from './contract-job-events.js';

export interface StoreBackend {
  /** a new, empty store; closed by the test's teardown */
  open(t: Test): Promise<Store>;
  /** the same data opened again after `store` was closed (a restart); closed by the teardown */
  reopen(t: Test, store: Store): Promise<Store>;
  /** where replicas share the data (PostgreSQL): another store open on it beside `store`; closed by the teardown */
  replica?(t: Test, store: Store): Promise<Store>;
}

export const seqF32 = (n: number, start = 0) => Float32Array.from({ length: n }, (_, i) => (start + i) * 0.5 - 3);

export function model(k: number, d: number, over: Partial<NewModel> = {}): NewModel {
  return {
    jobId: null,
    name: null,
    inputDimension: d,
    outputDimension: k,
    normalize: false,
    trainingParams: null,
    metrics: { note: 'x' },
    weights: Float64Array.from({ length: k * d }, (_, i) => i / 7 - 1),
    ...over,
  };
}

export const params = (over: Partial<TrainingParams> = {}): TrainingParams =>
  ({ ...TRAINING_DEFAULTS.triplets, outputDimension: 1, seed: 3, ...over }) as TrainingParams;

/** An empty, unnamed exact gallery on the model `m`, of its dimensions. */
export const exactGalleryOn = (store: Store, m: ModelRecord) =>
  store.createGallery({
    name: null,
    modelId: m.id,
    dimension: m.inputDimension,
    embeddingDimension: m.outputDimension,
    index: 'exact',
  });

/** A k×d model and an empty exact gallery on it. */
export async function exactGallery(store: Store, k: number, d: number) {
  const m = await store.createModel(model(k, d));
  return { m, g: await exactGalleryOn(store, m) };
}

/** A reindex's setting: two models of 3 features (k 2, then k 4) and an empty exact gallery on the first. */
export async function reindexSetting(store: Store) {
  const from = await store.createModel(model(2, 3));
  const to = await store.createModel(model(4, 3));
  return { from, to, g: await exactGalleryOn(store, from) };
}

/** A lease that does not expire during a test. */
export const LEASE = { owner: 'host-a:101:aaaa', ms: 600_000 };

/** A 1-d dataset of samples 10, 11, … labelled `labels`, with `refs` (3 a triplet) committed as index triplets. */
export async function indexedDataset(store: Store, labels: Label[], refs: number[]): Promise<string> {
  const ds = await store.createDataset({ name: null, dimension: 1 });
  await store.appendSamples(
    ds.id,
    Float32Array.from(labels, (_, i) => 10 + i),
    labels,
  );
  await store.stageIndexTriplets(
    'up_refs',
    ds.id,
    Float32Array.from(refs, (i) => 10 + i),
    Int32Array.from(refs),
  );
  await store.commitStaged('up_refs', ds.id, 'triplets', refs.length / 3, undefined, { samplesEpoch: 0 });
  return ds.id;
}
const OTHER = { owner: 'host-b:202:bbbb', ms: 600_000 };
/** A lease expired as soon as it is taken (0 ms): the next sweep requeues its job. */
const EXPIRED = { owner: 'host-c:303:cccc', ms: 0 };
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

// etaMs is always read back (null when a writer left it out: contract-job-events.ts)
const progress = {
  iteration: 3,
  maxIterations: 10,
  loss: 0.5,
  gradientNorm: 0.1,
  activeFraction: 0.25,
  elapsedMs: 12,
  etaMs: null,
};

export function storeContract(t: Test, backend: StoreBackend): void {
  t.test('datasets: create, get, list, delete', async (t) => {
    const store = await backend.open(t);
    const a = await store.createDataset({ name: 'a', dimension: 3 });
    t.match(a, { name: 'a', dimension: 3, tripletCount: 0, sampleCount: 0 });
    t.match(a.id, /^ds_/);
    t.same(await store.getDataset(a.id), a);
    t.equal(await store.getDataset('ds_nope'), undefined);
    const b = await store.createDataset({ name: null, dimension: 5 });
    t.equal(b.name, null);
    t.not(a.id, b.id);
    t.same(
      (await store.listDatasets({ limit: 10 })).items.map((d) => d.id),
      [b.id, a.id],
      'newest first',
    );
    await store.appendTriplets(a.id, seqF32(9), 1);
    t.ok(await store.deleteDataset(a.id));
    t.notOk(await store.deleteDataset(a.id), 'false when unknown');
    t.equal(await store.getDataset(a.id), undefined);
    await t.rejects(store.readTriplets(a.id), { code: 'DATASET_NOT_FOUND', kind: 'not_found' });
    await t.rejects(store.readSamples(a.id), { code: 'DATASET_NOT_FOUND' });
  });

  t.test('deleteDataset refuses while a job uses the dataset; no job is queued on a deleted one', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendSamples(ds.id, seqF32(3), ['a', 'b', 'a']);
    const job = await store.createJob({ datasetId: ds.id, params: params() });
    // the store itself refuses: a caller's earlier activeJobsForDataset proves nothing by now
    await t.rejects(store.deleteDataset(ds.id), { code: 'DATASET_IN_USE', kind: 'conflict' }, 'queued');
    t.match(await store.getDataset(ds.id), { sampleCount: 3 }, 'nothing deleted');
    t.equal((await store.readSamples(ds.id)).count, 3);
    t.equal((await store.claimNextJob(LEASE))?.id, job.id);
    await t.rejects(store.deleteDataset(ds.id), { code: 'DATASET_IN_USE' }, 'running');
    await store.finishJob(job.id, 'cancelled', null);
    t.equal(await store.deleteDataset(ds.id), true, 'deleted once its job ended');
    await t.rejects(
      store.createJob({ datasetId: ds.id, params: params() }),
      { code: 'DATASET_NOT_FOUND', kind: 'not_found' },
      'a job on a deleted dataset is refused',
    );
    const limit = { max: 100, setting: 'MAX_QUEUED_JOBS' };
    await t.rejects(store.createJob({ datasetId: ds.id, params: params() }, limit), { code: 'DATASET_NOT_FOUND' });
    t.equal(await store.countJobs('queued'), 0, 'no job was queued');

    // Racing (from another replica where there is one): exactly one of them wins, every round.
    const other = backend.replica ? await backend.replica(t, store) : store;
    const outcomes = new Map<string, number>();
    for (let round = 0; round < 12; round++) {
      const r = await store.createDataset({ name: null, dimension: 1 });
      await store.appendSamples(r.id, seqF32(2), ['a', 'b']);
      const [made, del] = await Promise.allSettled([
        other.createJob({ datasetId: r.id, params: params() }, limit),
        store.deleteDataset(r.id),
      ]);
      const key = `${made.status === 'fulfilled' ? 'job' : (made.reason as { code: string }).code}/${
        del.status === 'fulfilled' ? 'deleted' : (del.reason as { code: string }).code
      }`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (!['job/DATASET_IN_USE', 'DATASET_NOT_FOUND/deleted'].includes(key)) t.fail(`round ${round}: ${key}`);
      if (made.status === 'fulfilled') {
        t.ok(await store.getDataset(r.id), 'a queued job has its dataset');
        await store.finishJob(made.value.id, 'cancelled', null);
      }
    }
    t.comment(`job/delete outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });

  t.test('triplets: append and read back in order, exactly', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const empty = await store.readTriplets(ds.id);
    t.same(
      { count: empty.count, dimension: empty.dimension, length: empty.data.length },
      { count: 0, dimension: 2, length: 0 },
    );
    const first = seqF32(2 * 3 * 2);
    const second = seqF32(3 * 3 * 2, 100);
    t.equal((await store.appendTriplets(ds.id, first, 2)).tripletCount, 2);
    t.equal((await store.appendTriplets(ds.id, second, 3)).tripletCount, 5);
    const got = await store.readTriplets(ds.id);
    t.equal(got.count, 5);
    t.equal(got.dimension, 2);
    t.same(Array.from(got.data), [...first, ...second], 'chunks in order, values exact');
    t.equal(first.length, 12, "the caller's array is still its own after the write");
    // a subarray at an odd offset is stored by its own bytes only
    const sub = seqF32(20, 500).subarray(3, 3 + 6);
    await store.appendTriplets(ds.id, sub, 1);
    t.same(Array.from((await store.readTriplets(ds.id)).data.slice(-6)), Array.from(sub));
    await t.rejects(store.appendTriplets('ds_nope', first, 2), { code: 'DATASET_NOT_FOUND' });
  });

  t.test('samples: labels of both kinds, kept apart from triplets', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    t.equal((await store.appendSamples(ds.id, seqF32(4), ['a', 1])).sampleCount, 2);
    t.equal((await store.appendSamples(ds.id, seqF32(2, 9), ['1'])).sampleCount, 3);
    const s = await store.readSamples(ds.id);
    t.same(
      { count: s.count, dimension: s.dimension, labels: s.labels },
      { count: 3, dimension: 2, labels: ['a', 1, '1'] },
    );
    t.same(Array.from(s.data), [...seqF32(4), ...seqF32(2, 9)]);
    t.equal((await store.readTriplets(ds.id)).count, 0, 'samples are not triplets');
    t.match(await store.getDataset(ds.id), { sampleCount: 3, tripletCount: 0 });
  });

  t.test('capacity limits hold inside the commit, also for concurrent writers', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const limit = { max: 4, setting: 'MAX_TRIPLETS_PER_DATASET' };
    await store.appendTriplets(ds.id, seqF32(9), 3, limit);
    await t.rejects(store.appendTriplets(ds.id, seqF32(6), 2, limit), {
      code: 'LIMIT_EXCEEDED',
      kind: 'limit',
      message: /MAX_TRIPLETS_PER_DATASET/,
    });
    t.equal((await store.readTriplets(ds.id)).count, 3, 'the refused chunk is not stored');
    const other = await store.createDataset({ name: null, dimension: 1 });
    const results = await Promise.allSettled(
      [0, 1, 2, 3, 4, 5].map(async (i) => {
        await store.stageChunk(`up_${i}`, other.id, 'triplets', seqF32(6), 2);
        return store.commitStaged(`up_${i}`, other.id, 'triplets', 2, { max: 5, setting: 'X' });
      }),
    );
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 2, 'two commits of 2 fit under 5, no more');
    t.equal((await store.getDataset(other.id))!.tripletCount, 4);
    t.equal((await store.readTriplets(other.id)).count, 4, 'what was refused is not readable');
    const samples = { max: 1, setting: 'MAX_SAMPLES_PER_DATASET' };
    await t.rejects(store.appendSamples(other.id, seqF32(2), ['a', 'b'], samples), { code: 'LIMIT_EXCEEDED' });
  });

  t.test('staged uploads: commit, discard, a deleted dataset', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendTriplets(ds.id, seqF32(3), 1);
    await store.stageChunk('up_a', ds.id, 'triplets', seqF32(6, 10), 2);
    await store.stageChunk('up_a', ds.id, 'triplets', seqF32(3, 20), 1);
    t.equal((await store.getDataset(ds.id))!.tripletCount, 1, 'staged triplets do not count');
    t.equal((await store.readTriplets(ds.id)).count, 1, 'and are not read');
    t.equal((await store.commitStaged('up_a', ds.id, 'triplets', 3)).tripletCount, 4);
    t.same(Array.from((await store.readTriplets(ds.id)).data), [...seqF32(3), ...seqF32(6, 10), ...seqF32(3, 20)]);

    await store.stageChunk('up_b', ds.id, 'triplets', seqF32(3, 30), 1);
    await store.discardStaged('up_b');
    t.equal((await store.readTriplets(ds.id)).count, 4);
    await store.stageChunk('up_s', ds.id, 'samples', seqF32(2), 2, ['x', 7]);
    t.equal((await store.commitStaged('up_s', ds.id, 'samples', 2)).sampleCount, 2);
    t.same((await store.readSamples(ds.id)).labels, ['x', 7], 'staged labels commit with their rows');

    const gone = await store.createDataset({ name: null, dimension: 1 });
    await store.stageChunk('up_c', gone.id, 'triplets', seqF32(3), 1);
    await store.deleteDataset(gone.id);
    await t.rejects(store.commitStaged('up_c', gone.id, 'triplets', 1), { code: 'DATASET_NOT_FOUND' });
  });

  t.test('a crash mid-upload: staged chunks never become visible', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendTriplets(ds.id, seqF32(3), 1);
    await store.stageChunk('up_d', ds.id, 'triplets', seqF32(3, 40), 1);
    await store.stageChunk('up_d', ds.id, 'samples', seqF32(1, 50), 1, ['z']);
    await store.close();
    t.notOk(store.isOpen());
    const again = await backend.reopen(t, store);
    t.equal((await again.getDataset(ds.id))!.tripletCount, 1);
    t.same(Array.from((await again.readTriplets(ds.id)).data), Array.from(seqF32(3)), 'committed data intact');
    t.equal((await again.readSamples(ds.id)).count, 0);
    // the dead upload's id commits nothing now
    t.equal((await again.commitStaged('up_d', ds.id, 'triplets', 0)).tripletCount, 1);
    t.equal((await again.readTriplets(ds.id)).count, 1);
  });

  t.test('jobs: queue, claim, progress, finish', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const p = params();
    const j1 = await store.createJob({ datasetId: ds.id, params: p });
    t.match(j1, {
      status: 'queued',
      datasetId: ds.id,
      progress: null,
      metrics: null,
      modelId: null,
      error: null,
      startedAt: null,
      finishedAt: null,
    });
    t.same(j1.params, p, 'params round trip');
    t.match(j1.id, /^job_/);
    t.same(await store.getJob(j1.id), j1);
    t.equal(await store.getJob('job_nope'), undefined);
    const j2 = await store.createJob({ datasetId: ds.id, params: p });
    t.equal(await store.countJobs('queued'), 2);
    t.equal(await store.activeJobsForDataset(ds.id), 2);

    const claimed = await store.claimNextJob(LEASE);
    t.equal(claimed!.id, j1.id, 'oldest first');
    t.equal(claimed!.status, 'running');
    t.ok(claimed!.startedAt);
    await store.updateJobProgress(j1.id, progress, LEASE.owner);
    t.same((await store.getJob(j1.id))!.progress, progress);
    await store.updateJobProgress(j2.id, progress, LEASE.owner);
    t.equal((await store.getJob(j2.id))!.progress, null, 'progress only for a running job');
    t.equal((await store.claimNextJob(LEASE))!.id, j2.id);
    t.equal(await store.claimNextJob(LEASE), undefined, 'nothing left to claim');

    const failed = await store.finishJob(
      j2.id,
      'failed',
      { code: 'TRAINING_FAILED', message: 'boom' },
      { trainLoss: 1 },
    );
    t.match(failed, {
      status: 'failed',
      error: { code: 'TRAINING_FAILED', message: 'boom' },
      metrics: { trainLoss: 1 },
    });
    t.ok(failed.finishedAt);
    t.equal(
      (await store.finishJob(j2.id, 'cancelled', null)).status,
      'failed',
      'finishing a finished job changes nothing',
    );
    const j3 = await store.createJob({ datasetId: ds.id, params: p });
    t.equal((await store.finishJob(j3.id, 'cancelled', null)).status, 'cancelled', 'a queued job can be cancelled');
    t.equal(await store.activeJobsForDataset(ds.id), 1);
    t.same(
      (await store.listJobs({ limit: 10, status: 'failed' })).items.map((j) => j.id),
      [j2.id],
    );
    t.same(
      (await store.listJobs({ limit: 10 })).items.map((j) => j.id),
      [j3.id, j2.id, j1.id],
    );
  });

  t.test('jobs have kinds: a reindex job has a target, no dataset, and is leased like any', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const train = await store.createJob({ datasetId: ds.id, params: params() });
    t.match(train, { kind: 'train', datasetId: ds.id, reindex: null });
    const { from, to, g } = await reindexSetting(store);
    const target = { galleryId: g.id, modelId: to.id, fromModelId: from.id };
    const re = await store.createJob({ kind: 'reindex', reindex: { galleryId: g.id, modelId: to.id } });
    t.match(re, { kind: 'reindex', status: 'queued', datasetId: null, params: null });
    t.same(re.reindex, target, 'the target round trips, with the model the gallery was on');
    t.same(await store.getJob(re.id), re);
    t.equal(await store.activeJobsForDataset(ds.id), 1, 'a reindex job uses no dataset');
    t.equal((await store.claimNextJob(LEASE))!.id, train.id, 'one queue for both kinds, oldest first');
    const claimed = await store.claimNextJob(LEASE);
    t.match(claimed, { id: re.id, kind: 'reindex', status: 'running', attempts: 1 });
    t.same(await store.renewJobLease(re.id, LEASE), { held: true });
    await store.updateJobProgress(re.id, { ...progress, iteration: 3, maxIterations: 10 }, LEASE.owner);
    t.match((await store.getJob(re.id))!.progress, { iteration: 3, maxIterations: 10 });
    t.equal(await store.releaseJobs(LEASE.owner), 2);
    t.match(await store.getJob(re.id), { status: 'queued', kind: 'reindex', reindex: target });
    t.same(
      (await store.listJobs({ limit: 10 })).items.map((j) => [j.id, j.kind]),
      [
        [re.id, 'reindex'],
        [train.id, 'train'],
      ],
    );
    t.equal((await store.finishJob(re.id, 'cancelled', null)).status, 'cancelled');
  });

  t.test('succeedReindexJob: the gallery switch and the job success together, fenced by the lease', async (t) => {
    const store = await backend.open(t);
    const { from, to, g } = await reindexSetting(store);
    const up = 'up_reindex';
    await store.stageGalleryItems(up, g.id, ['a', 'b'], [null, null], new Float32Array(6).fill(1), new Float32Array(4));
    await store.commitGalleryItems(up, g.id, from.id, 2, { max: 10, setting: 'TEST' });
    const move = (await store.createJob({ kind: 'reindex', reindex: { galleryId: g.id, modelId: to.id } })).id;
    const final = { ...progress, iteration: 2, maxIterations: 2 };
    await t.rejects(
      store.succeedReindexJob(move, g.id, LEASE.owner, {}, final),
      { code: 'LEASE_LOST' },
      'queued: not held',
    );
    await store.claimNextJob(LEASE);
    await t.rejects(
      store.succeedReindexJob(move, g.id, 'host-b:1:bbbb', {}, final),
      { code: 'LEASE_LOST' },
      'another owner',
    );
    t.same(await store.succeedReindexJob(move, g.id, LEASE.owner, {}, final), { committed: false, remaining: 2 });
    t.equal((await store.getJob(move))!.status, 'running', 'items remain: the job runs on');
    const batch = await store.readUnindexed(g.id, move, 10);
    await store.writeReindexBatch(g.id, move, {
      ...batch,
      embeddings: Float32Array.from({ length: 8 }, (_, i) => i),
    });
    const done = await store.succeedReindexJob(move, g.id, LEASE.owner, { itemsEmbedded: 2 }, final);
    t.equal(done.committed, true);
    if (!done.committed) return;
    t.match(done.job, { status: 'succeeded', kind: 'reindex', metrics: { itemsEmbedded: 2 }, progress: final });
    t.match(done.gallery, { model: to.id, pendingModel: null, reindexJob: null });
    t.same(Array.from((await store.readGalleryEmbeddings(g.id)).embeddings), [0, 1, 2, 3, 4, 5, 6, 7]);

    // cancelled first: the commit is refused and the gallery stays where it is
    const back = (await store.createJob({ kind: 'reindex', reindex: { galleryId: g.id, modelId: from.id } })).id;
    await store.claimNextJob(LEASE);
    const read = await store.readUnindexed(g.id, back, 10);
    await store.writeReindexBatch(g.id, back, { ...read, embeddings: new Float32Array(4) });
    await store.finishJob(back, 'cancelled', null);
    await t.rejects(store.succeedReindexJob(back, g.id, LEASE.owner, {}, final), { code: 'JOB_FINISHED' });
    t.match(await store.getGallery(g.id), { model: to.id, reindexJob: back }, 'not moved (the runner lets it go)');
  });

  t.test('the queue limit holds inside createJob, also for concurrent callers', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const limit = { max: 3, setting: 'MAX_QUEUED_JOBS' };
    await store.createJob({ datasetId: ds.id, params: params() }, limit);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => store.createJob({ datasetId: ds.id, params: params() }, limit)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    t.equal(ok.length, 2, 'only the room left is taken');
    for (const r of results) {
      if (r.status === 'rejected') t.match(r.reason, { code: 'QUEUE_FULL', message: /MAX_QUEUED_JOBS/ });
    }
    t.equal(await store.countJobs('queued'), 3);
    // a claimed job leaves the queue and makes room
    await store.claimNextJob(LEASE);
    await store.createJob({ datasetId: ds.id, params: params() }, limit);
    t.equal(await store.countJobs('queued'), 3);
  });

  t.test('nextQueuedJob peeks; claimNextJob(id) claims that job only while it is queued', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    t.equal(await store.nextQueuedJob(), undefined);
    const j1 = await store.createJob({ datasetId: ds.id, params: params() });
    const j2 = await store.createJob({ datasetId: ds.id, params: params() });
    t.equal((await store.nextQueuedJob())?.id, j1.id);
    t.equal((await store.nextQueuedJob())?.status, 'queued', 'peeking claims nothing');
    t.equal((await store.claimNextJob(LEASE, j2.id))?.id, j2.id);
    t.equal(await store.claimNextJob(LEASE, j2.id), undefined, 'already running');
    t.equal((await store.nextQueuedJob())?.id, j1.id);
    await store.finishJob(j1.id, 'cancelled', null);
    t.equal(await store.claimNextJob(LEASE, j1.id), undefined, 'finished');
    t.equal(await store.nextQueuedJob(), undefined);
  });

  t.test('concurrent claims never hand out one job twice', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    for (let i = 0; i < 5; i++) await store.createJob({ datasetId: ds.id, params: params() });
    const claimed = await Promise.all([0, 1, 2, 3, 4, 5, 6].map(() => store.claimNextJob(LEASE)));
    const ids = claimed.filter((j) => j !== undefined).map((j) => j!.id);
    t.equal(ids.length, 5);
    t.equal(new Set(ids).size, 5);
  });

  t.test('succeedJob writes the model and the job together, or neither', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const p = params({ margin: 0.3 });
    const j1 = await store.createJob({ datasetId: ds.id, params: p });
    await store.claimNextJob(LEASE);
    const { job, model: m } = await store.succeedJob(
      j1.id,
      model(1, 2, { jobId: j1.id, trainingParams: p }),
      { trainLoss: 0.1 },
      LEASE.owner,
    );
    t.match(job, { status: 'succeeded', modelId: m.id, metrics: { trainLoss: 0.1 } });
    t.ok(job.finishedAt);
    t.match(await store.getModel(m.id), { jobId: j1.id, trainingParams: { margin: 0.3, source: 'triplets' } });

    // a job cancelled while its last iteration ran: no model is written
    const j2 = await store.createJob({ datasetId: ds.id, params: p });
    await store.claimNextJob(LEASE);
    await store.finishJob(j2.id, 'cancelled', null);
    const before = (await store.listModels({ limit: 10 })).items.length;
    await t.rejects(store.succeedJob(j2.id, model(1, 2, { jobId: j2.id }), {}, LEASE.owner), {
      code: 'JOB_FINISHED',
      kind: 'conflict',
    });
    t.equal((await store.listModels({ limit: 10 })).items.length, before, 'the model was rolled back');
    t.match(await store.getJob(j2.id), { status: 'cancelled', modelId: null });
  });

  t.test('requeueRunningJobs: what a crash left running goes back to the queue', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j4 = await store.createJob({ datasetId: ds.id, params: params() });
    const j5 = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE);
    await store.claimNextJob(LEASE);
    t.equal(await store.requeueRunningJobs(), 2);
    t.equal((await store.getJob(j4.id))!.status, 'queued');
    t.equal(await store.countJobs('running'), 0);
    t.equal(await store.requeueRunningJobs(), 0);
    t.equal((await store.claimNextJob(LEASE))!.id, j4.id, 'in their first order');
    t.same(
      (await store.listJobs({ limit: 10, status: 'queued' })).items.map((j) => j.id),
      [j5.id],
    );
  });

  t.test('a claim takes a lease: attempts count, the owner is the only one that renews', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    t.match(j, { attempts: 0, resumedFromIteration: null });
    const claimed = await store.claimNextJob(LEASE);
    t.match(claimed, { id: j.id, status: 'running', attempts: 1, resumedFromIteration: null });
    t.same(await store.renewJobLease(j.id, LEASE), { held: true });
    t.same(await store.renewJobLease(j.id, OTHER), { held: false, reason: 'taken', status: 'running' });
    t.same(await store.renewJobLease('job_nope', LEASE), { held: false, reason: 'missing', status: null });
    t.equal(await store.requeueExpiredJobs(), 0, 'a live lease is not swept');
    await store.finishJob(j.id, 'cancelled', null);
    t.same(
      await store.renewJobLease(j.id, LEASE),
      { held: false, reason: 'finished', status: 'cancelled' },
      'cancelled from anywhere: the owner learns it at its next renewal',
    );
  });

  t.test('expired leases are swept back to the queue, and the job is claimed again', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    const live = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(EXPIRED, j.id);
    await store.claimNextJob(LEASE, live.id);
    t.equal(await store.requeueExpiredJobs(), 1, 'only the expired one');
    t.match(await store.getJob(j.id), { status: 'queued', attempts: 1 });
    t.equal((await store.getJob(live.id))!.status, 'running');
    t.same(await store.renewJobLease(j.id, EXPIRED), { held: false, reason: 'requeued', status: 'queued' });
    const again = await store.claimNextJob(OTHER);
    t.match(again, { id: j.id, status: 'running', attempts: 2 });
    t.ok(again!.startedAt, 'keeps its first start');
    t.same(await store.renewJobLease(j.id, EXPIRED), { held: false, reason: 'taken', status: 'running' });
    t.equal(await store.requeueExpiredJobs(), 0);
  });

  t.test('an expired lease that no sweep took yet can still be renewed by its owner', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(EXPIRED);
    t.same(await store.renewJobLease(j.id, { owner: EXPIRED.owner, ms: 600_000 }), { held: true });
    t.equal(await store.requeueExpiredJobs(), 0, 'renewed: not swept');
  });

  t.test("releaseJobs parks one owner's running jobs only", async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const a1 = await store.createJob({ datasetId: ds.id, params: params() });
    const b1 = await store.createJob({ datasetId: ds.id, params: params() });
    const a2 = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE, a1.id);
    await store.claimNextJob(OTHER, b1.id);
    await store.claimNextJob(LEASE, a2.id);
    await store.saveCheckpoint(a1.id, LEASE.owner, 4, bytes(10));
    t.equal(await store.releaseJobs(LEASE.owner), 2);
    t.equal((await store.getJob(a1.id))!.status, 'queued');
    t.equal((await store.getJob(a2.id))!.status, 'queued');
    t.equal((await store.getJob(b1.id))!.status, 'running');
    t.equal((await store.readCheckpoint(a1.id))?.iteration, 4, 'a parked job keeps its checkpoint');
    t.equal(await store.releaseJobs(LEASE.owner), 0);
  });

  t.test('fencing: a runner that lost its lease writes nothing', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(EXPIRED);
    t.ok(await store.saveCheckpoint(j.id, EXPIRED.owner, 3, bytes(16)), 'the owner checkpoints');
    await store.requeueExpiredJobs();
    await store.claimNextJob(OTHER);
    // the old owner, unaware, carries on
    await store.updateJobProgress(j.id, progress, EXPIRED.owner);
    t.equal((await store.getJob(j.id))!.progress, null, 'its progress is ignored');
    t.notOk(await store.saveCheckpoint(j.id, EXPIRED.owner, 9, bytes(16, 9)), 'its checkpoint is refused');
    t.equal((await store.readCheckpoint(j.id))!.iteration, 3, 'the checkpoint stays as it was');
    await store.discardCheckpoint(j.id, EXPIRED.owner);
    t.ok(await store.readCheckpoint(j.id), 'nor can it discard the checkpoint');
    const models = (await store.listModels({ limit: 10 })).items.length;
    await t.rejects(store.succeedJob(j.id, model(1, 2, { jobId: j.id }), {}, EXPIRED.owner), {
      code: 'LEASE_LOST',
      kind: 'conflict',
      message: new RegExp(`taken by ${OTHER.owner}`),
    });
    t.equal((await store.listModels({ limit: 10 })).items.length, models, 'no model is stored');
    t.match(
      await store.finishJob(j.id, 'failed', { code: 'WORKER_CRASHED', message: 'x' }, null, EXPIRED.owner),
      { status: 'running', error: null },
      'nor can it fail the job',
    );
    // the new owner's writes take effect
    await store.updateJobProgress(j.id, progress, OTHER.owner);
    t.same((await store.getJob(j.id))!.progress, progress);
    t.ok(await store.saveCheckpoint(j.id, OTHER.owner, 5, bytes(16, 5)));
    const done = await store.succeedJob(j.id, model(1, 2, { jobId: j.id }), { trainLoss: 1 }, OTHER.owner);
    t.match(done.job, { status: 'succeeded', modelId: done.model.id, attempts: 2 });
    t.equal(await store.readCheckpoint(j.id), undefined, 'the checkpoint goes when the job succeeds');
    // a requeued job not yet claimed again: LEASE_LOST too
    const q = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(EXPIRED, q.id);
    await store.requeueExpiredJobs();
    await t.rejects(store.succeedJob(q.id, model(1, 2, { jobId: q.id }), {}, EXPIRED.owner), {
      code: 'LEASE_LOST',
      message: /requeued/,
    });
    await t.rejects(store.succeedJob('job_nope', model(1, 2), {}, EXPIRED.owner), { code: 'JOB_NOT_FOUND' });
  });

  t.test('failing a job under its lease ends it and deletes its checkpoint', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE);
    await store.saveCheckpoint(j.id, LEASE.owner, 2, bytes(8));
    const failed = await store.finishJob(j.id, 'failed', { code: 'TRAINING_FAILED', message: 'x' }, null, LEASE.owner);
    t.match(failed, { status: 'failed', error: { code: 'TRAINING_FAILED' } });
    t.equal(await store.readCheckpoint(j.id), undefined);
    // a cancel (no owner) deletes it too
    const c = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE);
    await store.saveCheckpoint(c.id, LEASE.owner, 2, bytes(8));
    t.equal((await store.finishJob(c.id, 'cancelled', null)).status, 'cancelled');
    t.equal(await store.readCheckpoint(c.id), undefined);
    t.notOk(await store.saveCheckpoint(c.id, LEASE.owner, 3, bytes(8)), 'no checkpoint for a finished job');
  });

  t.test('a cancel racing checkpoint writes leaves no checkpoint behind', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    for (let round = 0; round < 4; round++) {
      const j = await store.createJob({ datasetId: ds.id, params: params() });
      await store.claimNextJob(LEASE, j.id);
      const writes = Array.from({ length: 6 }, (_, i) =>
        store.saveCheckpoint(j.id, LEASE.owner, i + 1, bytes(4096, i)),
      );
      const cancel = store.finishJob(j.id, 'cancelled', null);
      await Promise.all([...writes, cancel]);
      t.equal(await store.readCheckpoint(j.id), undefined, `round ${round}: none after the job ended`);
    }
  });

  t.test('checkpoints: replaced whole, read back exactly, resumed from at the next claim', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const j = await store.createJob({ datasetId: ds.id, params: params() });
    t.equal(await store.readCheckpoint(j.id), undefined);
    t.notOk(await store.saveCheckpoint(j.id, LEASE.owner, 1, bytes(4)), 'not while queued');
    await store.claimNextJob(LEASE);
    t.ok(await store.saveCheckpoint(j.id, LEASE.owner, 7, bytes(1000, 7)));
    // over 8 MiB: PostgreSQL stores it in parts
    const big = bytes(8 * 1024 * 1024 + 123, 3);
    t.ok(await store.saveCheckpoint(j.id, LEASE.owner, 12, big));
    const got = await store.readCheckpoint(j.id);
    t.equal(got!.iteration, 12, 'the latest replaces the previous one');
    t.equal(got!.data.byteLength, big.byteLength);
    t.ok(Buffer.from(got!.data).equals(Buffer.from(big)), 'bytes exact');
    const small = bytes(5, 9);
    t.ok(await store.saveCheckpoint(j.id, LEASE.owner, 13, small), 'a smaller one replaces every part');
    t.same(Array.from((await store.readCheckpoint(j.id))!.data), Array.from(small));
    t.equal(await store.releaseJobs(LEASE.owner), 1);
    const resumed = await store.claimNextJob(OTHER);
    t.match(resumed, { id: j.id, attempts: 2, resumedFromIteration: 13 }, 'the claim says where it resumes');
    t.match(await store.getJob(j.id), { resumedFromIteration: 13 });
    await store.discardCheckpoint(j.id, OTHER.owner);
    t.equal(await store.readCheckpoint(j.id), undefined, 'discarded by its owner');
    t.match(await store.getJob(j.id), { resumedFromIteration: null }, 'so it did not resume');
  });

  t.test('start-up requeues what no live runner holds, and requeueRunningJobs everything', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const gone = await store.createJob({ datasetId: ds.id, params: params() });
    await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(EXPIRED, gone.id);
    await store.claimNextJob(LEASE);
    // which live leases also go back is the backend's decision (sqlite.test.ts, postgres.test.ts)
    const n = await store.requeueOrphanedJobs();
    t.ok(n === 1 || n === 2, 'the expired job at least');
    t.equal((await store.getJob(gone.id))!.status, 'queued');
    t.equal(await store.countJobs('running'), 2 - n);
    await store.claimNextJob(LEASE, gone.id);
    t.equal(await store.requeueRunningJobs(), 2 - n + 1);
    t.equal(await store.countJobs('running'), 0);
  });

  t.test('models: weights round trip, newest, delete', async (t) => {
    const store = await backend.open(t);
    const nm = model(3, 4, { name: 'm', normalize: true, metrics: { note: 'y' } });
    const rec = await store.createModel(nm);
    t.match(rec, {
      name: 'm',
      inputDimension: 4,
      outputDimension: 3,
      normalize: true,
      metrics: { note: 'y' },
      jobId: null,
      trainingParams: null,
    });
    t.match(rec.id, /^mdl_/);
    t.same(await store.getModel(rec.id), rec);
    t.equal(await store.getModel('mdl_nope'), undefined);
    t.same(Array.from((await store.getModelWeights(rec.id))!), Array.from(nm.weights), 'float64 exact');
    t.equal(await store.getModelWeights('mdl_nope'), undefined);
    t.equal((await store.newestModel())!.id, rec.id);
    const other = await store.createModel(model(1, 1));
    t.equal((await store.newestModel())!.id, other.id);
    t.ok(await store.deleteModel(other.id));
    t.notOk(await store.deleteModel(other.id));
    t.equal((await store.newestModel())!.id, rec.id, 'the next newest');
    // the first model set the alias `default`, which keeps it (contract-aliases.ts)
    await t.rejects(store.deleteModel(rec.id), { code: 'MODEL_IN_USE' });
    t.ok(await store.deleteAlias('default'));
    t.ok(await store.deleteModel(rec.id));
    t.equal(await store.newestModel(), undefined);
  });

  t.test('pagination', async (t) => {
    const store = await backend.open(t);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await store.createDataset({ name: `d${i}`, dimension: 1 })).id);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const p = await store.listDatasets({ limit: 3, cursor });
      seen.push(...p.items.map((d) => d.id));
      pages++;
      if (!p.nextCursor || pages > 5) break;
      cursor = p.nextCursor;
    }
    t.equal(pages, 3);
    t.same(seen, [...ids].reverse());
    const exact = await store.listDatasets({ limit: 7 });
    t.equal(exact.items.length, 7);
    t.equal(exact.nextCursor, null, 'no next page when the page is exactly full');
    await t.rejects(store.listDatasets({ limit: 3, cursor: '!!' }), { code: 'INVALID_CURSOR', kind: 'invalid' });
    await t.rejects(store.listModels({ limit: 3, cursor: Buffer.from('12a').toString('base64url') }), {
      code: 'INVALID_CURSOR',
    });
    await t.rejects(store.listJobs({ limit: 3, cursor: Buffer.from('-1').toString('base64url') }), {
      code: 'INVALID_CURSOR',
    });
    for (let i = 0; i < 4; i++) await store.createModel(model(1, 1));
    const m1 = await store.listModels({ limit: 2 });
    const m2 = await store.listModels({ limit: 2, cursor: m1.nextCursor! });
    t.equal(m2.items.length, 2);
    t.equal(m2.nextCursor, null);
    t.equal(new Set([...m1.items, ...m2.items].map((m) => m.id)).size, 4);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    for (let i = 0; i < 3; i++) await store.createJob({ datasetId: ds.id, params: params() });
    const jp = await store.listJobs({ limit: 2 });
    t.equal(jp.items.length, 2);
    t.equal((await store.listJobs({ limit: 2, cursor: jp.nextCursor! })).items.length, 1);
  });

  t.test('everything survives close and reopen', async (t) => {
    const a = await backend.open(t);
    const ds = await a.createDataset({ name: 'keep', dimension: 2 });
    await a.appendTriplets(ds.id, seqF32(12), 2);
    await a.appendSamples(ds.id, seqF32(4), ['p', 'q']);
    const job = await a.createJob({ datasetId: ds.id, params: params() });
    await a.claimNextJob(LEASE);
    const m = await a.createModel(model(2, 2, { trainingParams: params() }));
    await a.close();
    t.notOk(a.isOpen());
    await a.close(); // twice is fine
    const b = await backend.reopen(t, a);
    t.ok(b.isOpen());
    t.same(await b.getDataset(ds.id), { ...ds, tripletCount: 2, sampleCount: 2, labelCount: 2 });
    t.same(Array.from((await b.readTriplets(ds.id)).data), Array.from(seqF32(12)));
    t.same((await b.readSamples(ds.id)).labels, ['p', 'q']);
    t.equal((await b.getJob(job.id))!.status, 'running', 'the store itself does not requeue; the runner does');
    t.same(await b.getModel(m.id), m);
    t.same(Array.from((await b.getModelWeights(m.id))!), Array.from(model(2, 2).weights));
  });

  t.test('health: an open store is healthy, a closed one says why not', async (t) => {
    const store = await backend.open(t);
    t.same(await store.health(), { ok: true });
    await store.createDataset({ name: null, dimension: 1 });
    t.same(await store.health(), { ok: true }, 'still after a write');
    await store.close();
    const after = await store.health();
    t.equal(after.ok, false);
    t.match(after.reason, /closed/);
  });

  t.test('domain errors keep their class, kind and code', async (t) => {
    const store = await backend.open(t);
    const err = await store.readTriplets('ds_nope').catch((e: unknown) => e);
    t.ok(err instanceof DomainError, 'a DomainError');
    t.match(err, { kind: 'not_found', code: 'DATASET_NOT_FOUND', message: /ds_nope/ });
  });

  aliasContract(t, backend);
  changeFeedContract(t, backend);
  galleryContract(t, backend);
  jobEventsContract(t, backend);
}
