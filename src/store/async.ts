// The Store interface over a synchronous implementation. A backend whose driver is synchronous
// (better-sqlite3) implements SyncStore, the same interface with plain return values, and is
// handed out through asyncStore: callers see one asynchronous interface whatever the backend.
import { ChangeHub } from './change-feed.js';
import { changesOf } from './sqlite-changes.js';
import type { Store } from './types.js';

/** Store with every Promise-returning method made synchronous; the wrapper adds the change feed. */
export type SyncStore = {
  [K in Exclude<keyof Store, 'watch'>]: Store[K] extends (...args: infer A) => Promise<infer R>
    ? (...args: A) => R
    : Store[K];
};

/** Every asynchronous method, checked against Store by the compiler (a new method must be added). */
export const ASYNC_METHODS = {
  close: 1,
  health: 1,
  createDataset: 1,
  getDataset: 1,
  listDatasets: 1,
  deleteDataset: 1,
  appendTriplets: 1,
  appendSamples: 1,
  stageChunk: 1,
  commitStaged: 1,
  discardStaged: 1,
  readTriplets: 1,
  readSamples: 1,
  readIndexedTriplets: 1,
  createJob: 1,
  getJob: 1,
  listJobs: 1,
  countJobs: 1,
  nextQueuedJob: 1,
  claimNextJob: 1,
  renewJobLease: 1,
  requeueExpiredJobs: 1,
  requeueOrphanedJobs: 1,
  releaseJobs: 1,
  updateJobProgress: 1,
  listJobEvents: 1,
  newestJobEventSeq: 1,
  finishJob: 1,
  succeedJob: 1,
  requeueRunningJobs: 1,
  saveCheckpoint: 1,
  readCheckpoint: 1,
  discardCheckpoint: 1,
  activeJobsForDataset: 1,
  createModel: 1,
  getModel: 1,
  getModelWeights: 1,
  listModels: 1,
  newestModel: 1,
  deleteModel: 1,
  // galleries
  createGallery: 1,
  getGallery: 1,
  listGalleries: 1,
  deleteGallery: 1,
  countGalleryLabels: 1,
  stageGalleryItems: 1,
  commitGalleryItems: 1,
  discardGalleryItems: 1,
  deleteGalleryItem: 1,
  deleteGalleryLabel: 1,
  readGalleryEmbeddings: 1,
  readUnindexed: 1,
  writeReindexBatch: 1,
  commitReindex: 1,
  abortReindex: 1,
  renameModel: 1,
  setAlias: 1,
  getAlias: 1,
  listAliases: 1,
  deleteAlias: 1,
  listLabels: 1,
  stageIndexTriplets: 1,
  eraseLabel: 1,
  getIdempotencyKey: 1,
  purgeIdempotencyKeys: 1,
  succeedReindexJob: 1,
} satisfies Record<Exclude<keyof Store, 'location' | 'isOpen' | 'watch'>, 1>;

/**
 * Wraps each method so it returns a Promise (a thrown error becomes a rejection), and tells the
 * change feed what each successful write changed before its caller hears it succeeded.
 */
export function asyncStore(sync: SyncStore): Store {
  const call = sync as unknown as Record<string, (...args: unknown[]) => unknown>;
  const hub = new ChangeHub();
  const out: Record<string, unknown> = { isOpen: () => sync.isOpen(), watch: hub.watch.bind(hub) };
  for (const name of Object.keys(ASYNC_METHODS)) {
    out[name] = async (...args: unknown[]) => {
      const result = call[name].apply(sync, args);
      for (const change of changesOf(name, args, result)) hub.emit(change);
      return result;
    };
  }
  Object.defineProperty(out, 'location', { get: () => sync.location, enumerable: true });
  return out as unknown as Store;
}
