// POST /galleries/:id/reindex: checks the target model against the gallery, then queues the job,
// which marks the gallery moving to it in the same store transaction (src/jobs/reindex.ts runs it).
// Search keeps answering from the old embeddings until the job commits. docs/decisions/0033-reindex-jobs.md.
import type { Limits } from '../config.js';
import type { JobRecord } from '../domain/records.js';
import { badRequest, notFound } from '../errors.js';
import type { JobRunner } from '../jobs/runner.js';
import type { GalleryRecord, Store } from '../store/types.js';
import { checkJobBudget, checkQueueRoom, queueLimit } from './job-admission.js';
import type { ModelService } from './models.js';

export class ReindexService {
  constructor(
    private readonly store: Store,
    private readonly models: ModelService,
    private readonly runner: JobRunner,
    private readonly limits: Limits,
  ) {}

  /**
   * Queues a reindex of the gallery onto `model` (an id or an alias): 202 with the job. The store
   * checks the gallery's holder, marks the gallery and inserts the job in one transaction, so of two
   * concurrent requests (any replica) one is queued and the other answered 409 REINDEX_PENDING,
   * naming the job that holds the gallery; it is not joined to that job, which may move the gallery
   * to another model than this request asked for.
   */
  async start(galleryId: string, model: string): Promise<JobRecord> {
    const gallery = await this.gallery(galleryId);
    const target = await this.models.resolve(model);
    if (target.d !== gallery.dimension) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `model ${target.record.id} takes ${target.d} inputs; gallery ${galleryId} holds ${gallery.dimension}-value features`,
      );
    }
    await checkQueueRoom(this.store, this.limits);
    checkJobBudget(this.runner.reindexShapeCost(target.d, target.k), this.limits);
    // MODEL_UNCHANGED, REINDEX_PENDING (409) from the store, as the gallery is when the job is queued
    const job = await this.store.createJob(
      { kind: 'reindex', reindex: { galleryId, modelId: target.record.id } },
      queueLimit(this.limits),
    );
    this.runner.pump();
    return job;
  }

  private async gallery(id: string): Promise<GalleryRecord> {
    const g = await this.store.getGallery(id);
    if (!g) throw notFound('GALLERY_NOT_FOUND', `gallery ${id} does not exist`);
    return g;
  }
}
