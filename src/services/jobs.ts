// Training jobs: validate and default the parameters, queue, list, cancel.
import type { Limits } from '../config.js';
import type { TrainingParams } from '../domain/training.js';
import { AppError, badRequest, conflict, notFound, unprocessable } from '../errors.js';
import type { JobRunner } from '../jobs/runner.js';
import type { TrainBody } from '../schemas/jobs.js';
import {
  isFinished,
  type DatasetRecord,
  type JobEvent,
  type JobRecord,
  type JobStatus,
  type Page,
  type PageRequest,
  type Store,
} from '../store/types.js';
import type { DatasetService, RowBatch } from './datasets.js';
import { checkJobBudget, checkQueueRoom, queueLimit } from './job-admission.js';
import { JobFollowers } from './job-follow.js';
import { resolveModelOptions, resolveParams } from './train-params.js';

/** POST /train's options: its body without the inline triplets, which arrive decoded. */
export type TrainOptionsBody = Omit<TrainBody, 'triplets'>;

/** Inline training triplets as n × 3·dimension float32 (src/http/dataset-rows.ts packTriplets). */
export type InlineTriplets = RowBatch & { dimension: number };

export class JobService {
  private readonly followers: JobFollowers;

  constructor(
    private readonly store: Store,
    private readonly datasets: DatasetService,
    private readonly runner: JobRunner,
    private readonly limits: Limits,
  ) {
    this.followers = new JobFollowers(store, runner.events);
  }

  /**
   * Queues a training job on a stored dataset (body.datasetId), or on inline triplets (decoded
   * by src/http from body.triplets) stored as a new dataset.
   */
  async train(body: TrainOptionsBody, inline?: InlineTriplets): Promise<JobRecord> {
    // JSON text such as 1e400 parses to Infinity, which the schema's number and integer checks let
    // through; stored with the job it would become null (JSON has no Infinity) and break the worker.
    for (const [key, v] of Object.entries(body)) {
      if (typeof v === 'number' && !Number.isFinite(v))
        throw badRequest('NON_FINITE_VALUE', `body/${key} must be a finite number (got ${v})`);
    }
    if ((body.datasetId === undefined) === (inline === undefined)) {
      throw new AppError(400, 'VALIDATION_ERROR', 'body must have exactly one of datasetId and triplets');
    }
    await checkQueueRoom(this.store, this.limits);
    if (body.datasetId !== undefined) {
      const job = await this.queue(body, await this.datasets.get(body.datasetId));
      this.runner.pump();
      return job;
    }
    const ds = await this.datasets.get(await this.storeInline(inline!, body));
    let job: JobRecord;
    try {
      job = await this.queue(body, ds);
    } catch (e) {
      // a refused or failed request leaves nothing behind: not the inline set either. A failed
      // delete leaves an unused dataset; the answer is still the refusal that caused it.
      await this.store.deleteDataset(ds.id).catch(() => undefined);
      throw e;
    }
    this.runner.pump();
    return job;
  }

  /** Checks the job against the limits and the data and queues it (the caller pumps the runner). */
  private async queue(body: TrainOptionsBody, ds: DatasetRecord): Promise<JobRecord> {
    const params = resolveParams(body, ds);
    this.checkLimits(params, ds);
    checkData(params, ds);
    return this.store.createJob({ datasetId: ds.id, params, ...resolveModelOptions(body) }, queueLimit(this.limits));
  }

  private checkLimits(p: TrainingParams, ds: DatasetRecord): void {
    if (p.outputDimension > this.limits.maxOutputDimension) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `outputDimension ${p.outputDimension} is over the limit of ${this.limits.maxOutputDimension} (MAX_OUTPUT_DIMENSION)`,
      );
    }
    if (p.maxIterations > this.limits.maxIterations) {
      throw new AppError(
        422,
        'LIMIT_EXCEEDED',
        `maxIterations ${p.maxIterations} is over the limit of ${this.limits.maxIterations} (MAX_ITERATIONS)`,
      );
    }
    checkJobBudget(this.runner.jobCost(p, ds), this.limits);
  }

  private async storeInline(inline: InlineTriplets, body: TrainOptionsBody): Promise<string> {
    const d = inline.dimension;
    const planned = {
      id: '(inline)',
      name: null,
      dimension: d,
      tripletCount: inline.count,
      sampleCount: 0,
      labelCount: 0,
      createdAt: '',
    };
    // everything that can be checked before the set is stored
    const params = resolveParams(body, planned);
    this.checkLimits(params, planned);
    checkData(params, planned);
    const ds = await this.datasets.create({ name: 'inline training set', dimension: d });
    try {
      await this.datasets.append(ds, 'triplets', inline);
    } catch (e) {
      await this.store.deleteDataset(ds.id); // all or nothing: no empty dataset left behind
      throw e;
    }
    return ds.id;
  }

  async get(id: string): Promise<JobRecord> {
    const job = await this.store.getJob(id);
    if (!job) throw notFound('JOB_NOT_FOUND', `job ${id} does not exist`);
    return job;
  }

  list(page: PageRequest & { status?: JobStatus }): Promise<Page<JobRecord>> {
    return this.store.listJobs(page);
  }

  count(status: JobStatus): Promise<number> {
    return this.store.countJobs(status);
  }

  /**
   * Calls listener with the job whenever its state or progress changes, whichever replica trains
   * it (src/services/job-follow.ts); returns the unsubscribe.
   */
  subscribe(id: string, listener: (job: JobRecord) => void): () => void {
    return this.followers.follow(id, listener);
  }

  /** The job's stored progress points after seq `after`, oldest first (the job is not looked up). */
  events(id: string, after: number, limit: number): Promise<Page<JobEvent>> {
    return this.store.listJobEvents(id, after, limit);
  }

  /** The seq of the job's newest stored progress point (0: none yet). */
  newestEventSeq(id: string): Promise<number> {
    return this.store.newestJobEventSeq(id);
  }

  /**
   * Cancels a queued or running job: 409 JOB_FINISHED when it has ended. The job may end between
   * the read and the cancel (its success commits first, on any replica): the store orders the two,
   * and a cancel that came second changed nothing, so it answers as one sent a moment later would.
   */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (isFinished(job.status)) throw jobFinished(job);
    const after = await this.runner.cancel(id);
    if (after.status !== 'cancelled') throw jobFinished(after);
    return after;
  }
}

function jobFinished(job: JobRecord): AppError {
  return conflict(
    'JOB_FINISHED',
    `job ${job.id} has already ${job.status === 'cancelled' ? 'been cancelled' : job.status}`,
  );
}

/** The dataset must hold what the job trains on. */
function checkData(params: TrainingParams, ds: DatasetRecord): void {
  if (params.source === 'samples') {
    if (ds.sampleCount < 2)
      throw unprocessable('NO_SAMPLES', `dataset ${ds.id} has ${ds.sampleCount} samples; mining needs at least two`);
    return;
  }
  if (ds.tripletCount === 0) {
    throw unprocessable(
      'NO_TRIPLETS',
      `dataset ${ds.id} has no triplets${ds.sampleCount ? ' (its samples train with mining)' : ''} to train on`,
    );
  }
  if (params.validationFraction > 0 && Math.round(ds.tripletCount * params.validationFraction) < 1) {
    throw unprocessable(
      'NO_TRIPLETS',
      `validationFraction ${params.validationFraction} of ${ds.tripletCount} triplets holds out none`,
    );
  }
}
