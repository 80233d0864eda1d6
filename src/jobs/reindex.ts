// The reindex executor: embeds every item of a gallery whose pending embedding is still missing
// with the job's target model, batch by batch, and commits the switch when none is left. It runs
// on the main thread, against the store's gallery methods and the serving kernels (in slices, as
// /embed does), so a reindexed embedding is bit for bit the one an upload with that model stores.
// The pending embeddings are durable: they are the job's checkpoint, and a job taken up again after
// a crash reads on from the first item without one. docs/decisions/0033-reindex-jobs.md.
import type { JobRecord, ReportedProgress, ReindexJobRecord } from '../domain/records.js';
import type { ReindexBatch, ReindexJobCommit, UnindexedItems } from '../store/types.js';

/** What a reindex job needs from the app: the gallery's store methods, a fenced commit, the serving kernels. */
export interface ReindexBackend {
  /** items per batch (REINDEX_BATCH_ITEMS) */
  batchItems: number;
  /** the gallery's items, for the progress's total; undefined when the gallery is gone */
  itemCount(galleryId: string): Promise<number | undefined>;
  readUnindexed(galleryId: string, jobId: string, limit: number): Promise<UnindexedItems>;
  /** false when the job no longer holds the reindex; items replaced since the read are skipped */
  writeReindexBatch(galleryId: string, jobId: string, batch: ReindexBatch): Promise<boolean>;
  /**
   * The gallery's switch to its pending embeddings and the job's success, in one transaction, only
   * while `owner` holds the job (LEASE_LOST, JOB_FINISHED otherwise) and every item has one.
   */
  commit(
    jobId: string,
    galleryId: string,
    owner: string,
    metrics: Record<string, unknown>,
    progress: ReportedProgress,
  ): Promise<ReindexJobCommit>;
  abortReindex(galleryId: string, jobId: string): Promise<void>;
  /** the model's input and output dimensions */
  modelShape(modelId: string): Promise<{ d: number; k: number }>;
  /** n rows of X through the model, on the serving kernels in slices: n×k float32 */
  embed(modelId: string, X: Float32Array, n: number): Promise<Float32Array>;
}

/**
 * How the loop ended. `committed`: the gallery is on the new model and the job succeeded;
 * `stopped`: the runner asked it to stop (cancel, park, a lost lease); `aborted`: the gallery is no
 * longer held by this job (a cancel elsewhere, the gallery deleted); `lost`: the commit was refused,
 * the job being another runner's or over; `gone`: the gallery was deleted under it (a delete that
 * raced the job's start, which the delete's own cancel did not see); `interrupted`: the storage was
 * unavailable (an outage, decision 0023), which says nothing about the job: it is left to its lease
 * and taken up again from its pending embeddings; `failed`: it cannot go on.
 */
export type ReindexOutcome =
  | { type: 'committed'; job: JobRecord }
  | { type: 'stopped' }
  | { type: 'aborted'; message: string }
  | { type: 'gone'; message: string }
  | { type: 'lost'; code: string; message: string }
  | { type: 'interrupted'; message: string }
  | { type: 'failed'; code: string; message: string };

export interface ReindexHooks {
  owner: string;
  signal: AbortSignal;
  onProgress(progress: ReportedProgress): void;
}

const codeOf = (e: unknown) => (e as { code?: string }).code;

/** Runs the job's loop to an outcome; store errors other than the expected refusals fail it. */
export async function runReindex(
  job: ReindexJobRecord,
  backend: ReindexBackend,
  hooks: ReindexHooks,
): Promise<ReindexOutcome> {
  try {
    return await reindexLoop(job, backend, hooks);
  } catch (e) {
    const code = codeOf(e);
    if (code === 'REINDEX_NOT_HELD') return { type: 'aborted', message: (e as Error).message };
    if (code === 'LEASE_LOST' || code === 'JOB_FINISHED') return { type: 'lost', code, message: (e as Error).message };
    if (code === 'STORAGE_UNAVAILABLE') return { type: 'interrupted', message: (e as Error).message };
    if (code === 'GALLERY_NOT_FOUND') return { type: 'gone', message: (e as Error).message };
    if (code?.endsWith('_NOT_FOUND')) return { type: 'failed', code, message: (e as Error).message };
    return { type: 'failed', code: 'REINDEX_FAILED', message: (e as Error).message };
  }
}

async function reindexLoop(job: ReindexJobRecord, b: ReindexBackend, hooks: ReindexHooks): Promise<ReindexOutcome> {
  const { galleryId, modelId } = job.reindex;
  const started = performance.now();
  const shape = await b.modelShape(modelId);
  let embedded = 0;
  let total = (await b.itemCount(galleryId)) ?? 0;
  const progress = (left: number): ReportedProgress => {
    total = Math.max(total, embedded, left);
    // `training` for a reindex job: embedding the gallery's items, batch after batch
    const elapsedMs = performance.now() - started;
    return { iteration: total - left, maxIterations: total, activeFraction: 0, elapsedMs, phase: 'training' };
  };
  for (;;) {
    if (hooks.signal.aborted) return { type: 'stopped' };
    const batch = await b.readUnindexed(galleryId, job.id, b.batchItems);
    const n = batch.ids.length;
    if (n === 0) {
      if (hooks.signal.aborted) return { type: 'stopped' };
      const metrics = { itemsEmbedded: embedded, elapsedMs: performance.now() - started };
      const done = await b.commit(job.id, galleryId, hooks.owner, metrics, { ...progress(0), phase: 'saving' });
      if (done.committed) return { type: 'committed', job: done.job };
      continue; // items were added or replaced since the last read: embed them too
    }
    if (batch.dimension !== shape.d) {
      return {
        type: 'failed',
        code: 'DIMENSION_MISMATCH',
        message: `the gallery's items have ${batch.dimension} features; model ${modelId} takes ${shape.d}`,
      };
    }
    const embeddings = await b.embed(modelId, batch.features, n);
    if (hooks.signal.aborted) return { type: 'stopped' };
    if (!(await b.writeReindexBatch(galleryId, job.id, { ids: batch.ids, features: batch.features, embeddings })))
      return { type: 'aborted', message: `gallery ${galleryId} is no longer being reindexed by job ${job.id}` };
    embedded += n;
    hooks.onProgress(progress(Math.max(0, batch.remaining - n)));
  }
}
