// POST /galleries/:id/reindex: checks the target model against the gallery, marks the gallery
// moving to it under a new job id, then queues the job (src/jobs/reindex.ts runs it). Search keeps
// answering from the old embeddings until the job commits. docs/decisions/0033-reindex-jobs.md.
import type { Limits } from '../config.js';
import { isFinished, type JobRecord } from '../domain/records.js';
import { badRequest, conflict, notFound } from '../errors.js';
import type { JobRunner } from '../jobs/runner.js';
import { newId } from '../store/ids.js';
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

  /** Queues a reindex of the gallery onto `model` (an id or an alias): 202 with the job. */
  async start(galleryId: string, model: string): Promise<JobRecord> {
    const gallery = await this.gallery(galleryId);
    const target = await this.models.resolve(model);
    if (target.d !== gallery.dimension) {
      throw badRequest(
        'DIMENSION_MISMATCH',
        `model ${target.record.id} takes ${target.d} inputs; gallery ${galleryId} holds ${gallery.dimension}-value features`,
      );
    }
    if (target.record.id === gallery.model)
      throw conflict('MODEL_UNCHANGED', `gallery ${galleryId} is already on model ${target.record.id}`);
    await checkQueueRoom(this.store, this.limits);
    checkJobBudget(this.runner.reindexShapeCost(target.d, target.k), this.limits);
    const id = newId('job');
    await this.hold(gallery, id, target.record.id);
    try {
      const job = await this.store.createJob(
        { kind: 'reindex', id, reindex: { galleryId, modelId: target.record.id, fromModelId: gallery.model } },
        queueLimit(this.limits),
      );
      this.runner.pump();
      return job;
    } catch (e) {
      // no job, no move: the gallery is let go in the same request
      await this.store.abortReindex(galleryId, id);
      throw e;
    }
  }

  private async gallery(id: string): Promise<GalleryRecord> {
    const g = await this.store.getGallery(id);
    if (!g) throw notFound('GALLERY_NOT_FOUND', `gallery ${id} does not exist`);
    return g;
  }

  /**
   * Marks the gallery moving under `jobId`. A gallery still held by a job that is over (its process
   * died between ending the job and letting the gallery go) or that was never stored (it died
   * before) is let go first; one held by a live job is a conflict.
   */
  private async hold(gallery: GalleryRecord, jobId: string, modelId: string): Promise<void> {
    const holder = gallery.reindexJob;
    if (holder !== null) {
      const job = await this.store.getJob(holder);
      if (job && !isFinished(job.status)) {
        throw conflict(
          'REINDEX_PENDING',
          `gallery ${gallery.id} is already being reindexed by job ${holder}; cancel it first`,
        );
      }
      await this.store.abortReindex(gallery.id, holder);
    }
    // REINDEX_PENDING (409) should another request have taken it meanwhile
    await this.store.startReindex(gallery.id, jobId, modelId);
  }
}
