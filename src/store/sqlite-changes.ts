// The SQLite store's change feed: one process owns the file, so the writes it makes are all there
// is to hear. The wrapper that forwards each call (asyncStore, the SQLite thread) asks changesOf
// once the call succeeded. Every method is listed, so the compiler asks about each new one.
import type { ASYNC_METHODS } from './async.js';
import type { AliasRecord, ChangeTable, JobRecord, ModelRecord, Store, StoreChange } from './types.js';

type Method = keyof typeof ASYNC_METHODS;
/** What a successful call changed, from its arguments and result; null for reads. */
type ChangesOf<M extends Method> =
  ((args: Parameters<Store[M]>, result: Awaited<ReturnType<Store[M]>>) => StoreChange[]) | null;

const change = (table: ChangeTable, id: string, op: 'insert' | 'update' | 'delete'): StoreChange => ({
  kind: 'change',
  table,
  id,
  op,
});
const datasetUpdated = (args: [string, ...unknown[]]) => [change('datasets', args[0], 'update')];
const jobUpdated = (args: [string, ...unknown[]]) => [change('jobs', args[0], 'update')];
const requeued = (_args: unknown[], n: number): StoreChange[] =>
  n > 0 ? [{ kind: 'resync', reason: `${n} running jobs were requeued` }] : [];
const jobOf = (job: JobRecord | undefined) => (job ? [change('jobs', job.id, 'update')] : []);
/** An alias written: new (insert: it never pointed elsewhere) or moved (update). */
const aliasSet = (a: AliasRecord) => change('aliases', a.name, a.previousModel === null ? 'insert' : 'update');

const WRITES: { [M in Method]: ChangesOf<M> } = {
  close: null,
  health: null,
  createDataset: (_args, ds) => [change('datasets', ds.id, 'insert')],
  getDataset: null,
  listDatasets: null,
  deleteDataset: ([id], deleted) => (deleted ? [change('datasets', id, 'delete')] : []),
  appendTriplets: datasetUpdated,
  appendSamples: datasetUpdated,
  // invisible until committed
  stageChunk: null,
  commitStaged: ([, datasetId]) => [change('datasets', datasetId, 'update')],
  discardStaged: null,
  readTriplets: null,
  readSamples: null,
  readIndexedTriplets: null,
  createJob: (_args, job) => [change('jobs', job.id, 'insert')],
  getJob: null,
  listJobs: null,
  countJobs: null,
  nextQueuedJob: null,
  claimNextJob: (_args, job) => jobOf(job),
  updateJobProgress: jobUpdated,
  listJobEvents: null,
  newestJobEventSeq: null,
  finishJob: jobUpdated,
  succeedJob: ([id], { model, alias }: { model: ModelRecord; alias: AliasRecord | null }) => [
    change('models', model.id, 'insert'),
    change('jobs', id, 'update'),
    ...(alias ? [aliasSet(alias)] : []),
  ],
  // A renewal moves the lease's expiry alone, which no listener follows (as on PostgreSQL).
  renewJobLease: null,
  // Which jobs went back is not returned: listeners re-read what they follow.
  requeueRunningJobs: requeued,
  requeueExpiredJobs: requeued,
  requeueOrphanedJobs: requeued,
  releaseJobs: requeued,
  // checkpoints are the runner's, not a table the feed reports on
  saveCheckpoint: null,
  readCheckpoint: null,
  discardCheckpoint: null,
  activeJobsForDataset: null,
  createModel: (_args, m) => [change('models', m.id, 'insert')],
  getModel: null,
  getModelWeights: null,
  listModels: null,
  newestModel: null,
  deleteModel: ([id], deleted) => (deleted ? [change('models', id, 'delete')] : []),
  // Galleries: a change of their items (the version moves) and a delete; a search still reads the
  // gallery's version on every call, the feed lets caches drop what an erasure removed.
  createGallery: null,
  getGallery: null,
  listGalleries: null,
  deleteGallery: ([id], deleted) => (deleted ? [change('galleries', id, 'delete')] : []),
  countGalleryLabels: null,
  stageGalleryItems: null,
  commitGalleryItems: ([, galleryId]) => [change('galleries', galleryId, 'update')],
  discardGalleryItems: null,
  deleteGalleryItem: ([galleryId], r) => (r.deleted > 0 ? [change('galleries', galleryId, 'update')] : []),
  deleteGalleryLabel: ([galleryId], r) => (r.deleted > 0 ? [change('galleries', galleryId, 'update')] : []),
  readGalleryEmbeddings: null,
  readUnindexed: null,
  writeReindexBatch: null,
  commitReindex: ([galleryId], r) => (r.committed ? [change('galleries', galleryId, 'update')] : []),
  abortReindex: null,
  renameModel: ([id], m) => (m ? [change('models', id, 'update')] : []),
  setAlias: (_args, alias) => [aliasSet(alias)],
  getAlias: null,
  listAliases: null,
  deleteAlias: ([name], deleted) => (deleted ? [change('aliases', name, 'delete')] : []),
  listLabels: null,
  stageIndexTriplets: null,
  eraseLabel: datasetUpdated,
  getIdempotencyKey: null,
  purgeIdempotencyKeys: null,
  succeedReindexJob: ([id, galleryId], r: { committed: boolean }) =>
    r.committed ? [change('jobs', id as string, 'update'), change('galleries', galleryId as string, 'update')] : [],
};

/** The events of one successful call of `method`. */
export function changesOf(method: string, args: unknown[], result: unknown): StoreChange[] {
  const of = WRITES[method as Method] as ((a: unknown[], r: unknown) => StoreChange[]) | null | undefined;
  return of ? of(args, result) : [];
}
