// The job runner: claims queued jobs, TRAIN_CONCURRENCY at a time, under a lease it renews, runs
// each in a worker thread, writes progress at least once a second and checkpoints as they come,
// and writes the model and final state; every write is fenced by the lease. A job whose lease
// another replica's sweep took back (this process stalled), or that was cancelled elsewhere, is
// stopped at the next renewal without writing anything. docs/decisions/0021-job-leases-checkpoints.md.
// Jobs have kinds: a training job runs in a worker thread, a reindex job in a loop on this thread
// (src/jobs/reindex.ts); both are claimed, leased, renewed, cancelled, parked and requeued alike.
// docs/decisions/0033-reindex-jobs.md.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { FastifyBaseLogger } from 'fastify';
import type { ComputeSettings } from '../compute/index.js';
import { labelIds } from '../compute/training-data.js';
import { backoffDelay } from '../domain/backoff.js';
import { batchExceedsData } from '../domain/batch-capacity.js';
import {
  formatBytes,
  MiB,
  reindexJobCost,
  trainingJobCost,
  type CostEstimate,
  overJobBudget,
} from '../domain/costs.js';
import {
  finiteMetrics,
  finiteProgress,
  type JobPhase,
  isReindexJob,
  type ReindexJobRecord,
  type TrainJobRecord,
} from '../domain/records.js';
import { embeddedNormalized, type TrainingParams } from '../domain/training.js';
import { newEtaState, withEta, type EtaState } from './eta.js';
import type {
  AliasRecord,
  DatasetRecord,
  JobLease,
  JobProgress,
  ReportedProgress,
  JobRecord,
  LeaseRenewal,
  Store,
} from '../store/types.js';
import type { TrainTask, WorkerMessage } from './messages.js';
import { runReindex, type ReindexBackend, type ReindexOutcome } from './reindex.js';
import { SPARE_HEAP_MB, SpareWorker, startWorker, WaitingWorker, type WorkerHandle } from './worker-pool.js';

/**
 * How often progress reaches the database and SSE subscribers (the worker reports every 100 ms):
 * two to four store writes a second per running job, a short wait for a watching client.
 */
const PROGRESS_WRITE_MS = 250;
/** A cancelled worker that has not stopped by then is terminated. */
const CANCEL_GRACE_MS = 1000;
/** first and longest wait before a model's write is tried again while the storage is unavailable */
const STORE_RETRY_MS = 250;
const STORE_RETRY_MAX_MS = 5000;

/** What runs a job: a training worker thread, or a reindex loop. */
interface Execution {
  /** asks it to stop: it stops within CANCEL_GRACE_MS (a worker that lingers is terminated) */
  stop(): void;
  /** stops it at once, as a killed process would */
  kill(): void;
  /** settles, with an exit code, once it has stopped */
  exited: Promise<number>;
}

/** A worker thread as an Execution: stop sets the shared cancel flag, then terminates it after the grace. */
function workerExecution(handle: WorkerHandle, control: Int32Array): Execution {
  return {
    stop() {
      Atomics.store(control, 0, 1);
      const t = setTimeout(() => void handle.worker.terminate(), CANCEL_GRACE_MS);
      void handle.exited.then(() => clearTimeout(t));
    },
    kill: () => void handle.worker.terminate(),
    exited: handle.exited,
  };
}

interface Running {
  job: JobRecord;
  exec: Execution;
  lastWrite: number;
  pending: JobProgress | null;
  timer: NodeJS.Timeout | null;
  /**
   * why the runner stopped it: the job ends cancelled, goes back to the queue, or is no longer this
   * runner's (its lease lost, or it ended elsewhere), when nothing more is written
   */
  stopping: 'cancel' | 'park' | 'lost' | null;
  done: boolean;
  /** the job's store writes, in order */
  writes: Promise<void>;
  /** its estimated peak memory, held against JOB_MEMORY_BUDGET_MB while it runs */
  bytes: number;
  /** what the ETA remembers of this run's earlier points */
  eta: EtaState;
  /** the newest progress reported (written or pending) */
  lastProgress: JobProgress;
  /** the phase of the last point handed to the store: a point of another phase is written at once */
  sentPhase: JobPhase | null;
}

export interface RunnerOptions {
  store: Store;
  concurrency: number;
  compute: ComputeSettings;
  log: FastifyBaseLogger;
  onModelCreated: () => void;
  /** says that a job's success moved an alias (promoted, or the first model set `default`) */
  logAlias?: (alias: AliasRecord, cause: string) => void;
  /** heap cap of each training worker, in MiB */
  heapMb: number;
  /** JOB_SPARE_WORKER: keep a worker started ahead of the next small job (SpareWorker) */
  spareWorker?: boolean;
  /** JOB_MEMORY_BUDGET_MB: the estimated peak memory of all running jobs together */
  memoryBudgetMb: number;
  /** JOB_LEASE_MS: a claimed job's lease, renewed every third of it while the job runs */
  leaseMs: number;
  /** CHECKPOINT_INTERVAL_MS: time between a running job's checkpoints; 0 = none */
  checkpointIntervalMs: number;
  /** this runner's id on the leases it takes (default hostname:pid:random) */
  owner?: string;
  /** what reindex jobs run against (galleries, the serving kernels); without it they fail */
  reindex?: ReindexBackend;
}

/** A new runner id: where it runs (host, process) and a random part, so two apps in one process differ. */
export function newOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** Room a worker gets above its estimate before its WebAssembly memory and heap refuse to grow. */
const WORKER_MEMORY_SLACK = 64 * MiB;

/** A job whose data outgrew its allowance between the estimate and the read. */
class AllowanceError extends Error {}

/** A job whose data, as read, cannot fill its batch (it changed after POST /train checked it). */
class BatchError extends Error {}

export class JobRunner {
  /** Emits `job` with the job record whenever its state or progress changes. */
  readonly events = new EventEmitter();
  private running = new Map<string, Running>();
  /** jobs claimed whose data is being read, by id: their leases are renewed as the running ones' */
  private readonly launching = new Set<string>();
  /** estimated bytes of the jobs running or launching */
  private reserved = 0;
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private closing = false;
  /** pump() does nothing until start(): an app built with runJobs false keeps its jobs queued */
  private started = false;
  /** abandon() was called: the runner acts as a dead process, and close() writes nothing */
  private abandoned = false;
  /** renews leases, sweeps expired ones and pumps, every third of the lease */
  private heartbeat: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  /** the id on this runner's leases */
  readonly owner: string;
  private readonly spare: SpareWorker | null;
  /** training jobs that ran in a spare worker */
  spareTaken = 0;
  /** training jobs that ran in a worker started while their data was read */
  earlyTaken = 0;
  /** training jobs whose compute backend (or its threads) their waiting worker prepared */
  plannedTaken = 0;

  constructor(private readonly opts: RunnerOptions) {
    this.events.setMaxListeners(0);
    this.owner = opts.owner ?? newOwnerId();
    this.spare = opts.spareWorker ? new SpareWorker(Math.min(opts.heapMb, SPARE_HEAP_MB), opts.compute) : null;
  }

  private get lease(): JobLease {
    return { owner: this.owner, ms: this.opts.leaseMs };
  }

  /**
   * Puts back in the queue the running jobs no live runner holds (the store decides which: all of
   * them on SQLite, the expired ones on PostgreSQL), then starts work and the heartbeat.
   */
  async start(): Promise<void> {
    this.started = true;
    const n = await this.opts.store.requeueOrphanedJobs();
    if (n > 0) this.opts.log.info({ jobs: n }, 'requeued jobs left running by the last process');
    this.heartbeat = setInterval(() => this.beat(), Math.max(1, Math.floor(this.opts.leaseMs / 3)));
    this.heartbeat.unref();
    this.pump();
    this.spare?.warm();
  }

  /**
   * One heartbeat: renews the leases of the jobs running here (a refusal stops that job), then
   * requeues jobs whose lease expired (a replica died) and looks for work, which also picks up jobs
   * other replicas queued. A beat still running when the next is due makes that one a no-op.
   */
  private beat(): void {
    if (this.beating || this.closing) return;
    this.beating = (async () => {
      await Promise.all([...this.running.values()].map((r) => this.renew(r)));
      await Promise.all([...this.launching].map((id) => this.renewLaunching(id)));
      if (this.closing || !this.opts.store.isOpen()) return;
      const n = await this.opts.store.requeueExpiredJobs();
      if (n > 0) this.opts.log.warn({ jobs: n }, 'requeued jobs whose lease expired');
      this.pump();
    })()
      .catch((e: Error) => this.opts.log.error({ err: e }, 'could not renew or sweep job leases'))
      .finally(() => (this.beating = null));
  }

  private async renew(r: Running): Promise<void> {
    if (r.stopping || !this.opts.store.isOpen()) return;
    try {
      const answer = await this.opts.store.renewJobLease(r.job.id, this.lease);
      // a job whose final state this runner has just written is finished, not lost
      if (answer.held || (r.done && answer.reason === 'finished')) return;
      await this.lose(r, answer);
    } catch (e) {
      // The lease may still run out while the store is away; a later renewal decides.
      this.opts.log.warn({ err: e, jobId: r.job.id }, 'could not renew the job lease');
    }
  }

  /**
   * Keeps the lease of a job whose data is being read (a large dataset may take longer than the
   * lease): without it a sweep takes the job back and the read is wasted, on every attempt. A
   * refusal is acted on once the read ends (stillHeld).
   */
  private async renewLaunching(id: string): Promise<void> {
    if (!this.opts.store.isOpen()) return;
    await this.opts.store
      .renewJobLease(id, this.lease)
      .catch((e: Error) => this.opts.log.warn({ err: e, jobId: id }, 'could not renew the job lease'));
  }

  /** The job is no longer this runner's: stop its worker, write nothing more, tell the listeners. */
  private async lose(r: Running, why: Exclude<LeaseRenewal, { held: true }>): Promise<void> {
    if (r.stopping) return;
    r.stopping = 'lost';
    this.stopWorker(r);
    const fields = { jobId: r.job.id, reason: why.reason, status: why.status };
    if (why.reason === 'finished') this.opts.log.info(fields, 'job ended elsewhere; its worker is stopped');
    else this.opts.log.warn(fields, 'job lease lost; its worker is stopped without writing');
    const job = await this.opts.store.getJob(r.job.id);
    if (job) this.emit(job);
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** Starts queued jobs while there is room; one claim loop at a time. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.claimWhileRoom()
      .catch((e: Error) => this.opts.log.error({ err: e }, 'could not start queued jobs'))
      .finally(() => {
        this.pumping = null;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  /** A reindex job's estimated peak memory (src/domain/costs.ts): one batch of the target model. */
  async reindexCost(job: ReindexJobRecord): Promise<CostEstimate> {
    const b = this.opts.reindex;
    if (!b) return { bytes: 0, terms: [] };
    const { d, k } = await b.modelShape(job.reindex.modelId).catch(() => ({ d: 0, k: 0 }));
    return this.reindexShapeCost(d, k);
  }

  /** A reindex job's estimated peak memory with a d → k model. */
  reindexShapeCost(d: number, k: number): CostEstimate {
    return reindexJobCost(this.opts.reindex?.batchItems ?? 0, d, k);
  }

  /** The estimated peak memory of a queued job of either kind; 0 when its data is gone (it fails on launch). */
  private async costOf(job: JobRecord): Promise<CostEstimate> {
    if (isReindexJob(job)) return this.reindexCost(job);
    const ds = await this.opts.store.getDataset(job.datasetId!);
    return ds ? this.jobCost(job.params!, ds) : { bytes: 0, terms: [] };
  }

  /** A training job's estimated peak memory on this dataset (src/domain/costs.ts). */
  jobCost(params: TrainingParams, ds: Pick<DatasetRecord, 'dimension' | 'tripletCount' | 'sampleCount'>): CostEstimate {
    const count = params.source === 'samples' ? ds.sampleCount : ds.tripletCount;
    const threads = this.opts.compute.kernels === 'js' ? 1 : this.opts.compute.threads;
    const checkpoints = this.opts.checkpointIntervalMs > 0;
    return trainingJobCost(params, { count, dimension: ds.dimension, threads, checkpoints });
  }

  private get budget(): number {
    return this.opts.memoryBudgetMb * MiB;
  }

  /**
   * Starts queued jobs, oldest first, while TRAIN_CONCURRENCY and the memory budget leave room:
   * a job that fits alone but not beside the running ones waits at the head of the queue (no
   * overtaking, so a large job is not starved); one that no longer fits at all (the budget was
   * lowered since it was queued) fails with BUDGET_EXCEEDED instead of being started.
   */
  private async claimWhileRoom(): Promise<void> {
    while (this.started && !this.closing && this.running.size + this.launching.size < this.opts.concurrency) {
      const next = await this.opts.store.nextQueuedJob();
      if (!next) return;
      const cost = await this.costOf(next);
      const over = overJobBudget(cost, this.opts.memoryBudgetMb);
      if (over) {
        await this.finish(next.id, 'failed', { code: 'BUDGET_EXCEEDED', message: over });
        continue;
      }
      if (this.reserved + cost.bytes > this.budget && this.running.size + this.launching.size > 0) return;
      const job = await this.opts.store.claimNextJob(this.lease, next.id);
      if (!job) continue;
      this.launching.add(job.id);
      this.reserved += cost.bytes;
      try {
        await this.launch(job, cost.bytes);
      } finally {
        this.launching.delete(job.id);
        if (!this.running.has(job.id)) this.reserved -= cost.bytes;
      }
    }
  }

  /** The job's data, read from the store, for the worker (transferred, not copied). */
  private async taskFor(job: TrainJobRecord, control: Int32Array, bytes: number): Promise<TrainTask> {
    const task: TrainTask = {
      kind: 'train',
      jobId: job.id,
      params: job.params,
      compute: this.opts.compute,
      control: control.buffer as SharedArrayBuffer,
      memoryBytes: bytes + WORKER_MEMORY_SLACK,
      checkpointIntervalMs: this.opts.checkpointIntervalMs,
    };
    // A checkpoint that cannot be read (a failed checksum) costs the time since the start, not the job.
    const checkpoint = await this.opts.store.readCheckpoint(job.id).catch((e: Error) => {
      this.opts.log.warn({ err: e, jobId: job.id }, 'could not read the job checkpoint; the job starts from zero');
      return undefined;
    });
    if (checkpoint) task.resumeFrom = checkpoint.data;
    if (job.params.source === 'samples') {
      const s = await this.opts.store.readSamples(job.datasetId);
      task.samples = { count: s.count, dimension: s.dimension, data: s.data, labels: labelIds(s.labels) };
      // jobs stored before POST /train checked the batch (they have no validationSplit) train as queued
      const checked = job.params.validationSplit !== undefined;
      const why = checked
        ? batchExceedsData(job.params, { id: job.datasetId, labelCount: new Set(s.labels).size, sampleCount: s.count })
        : null;
      if (why) throw new BatchError(why);
    } else {
      // Triplets given by index travel as indices and the samples: each sample once. Only when
      // there are no more samples than triplets: then the indexed objective (2 copies of the
      // samples, n×k projections) fits in the job's estimate, made for m triplet rows.
      const ds = await this.opts.store.getDataset(job.datasetId);
      const indexed =
        ds && ds.sampleCount <= ds.tripletCount ? await this.opts.store.readIndexedTriplets(job.datasetId) : null;
      if (indexed) task.indexedTriplets = indexed;
      else task.triplets = await this.opts.store.readTriplets(job.datasetId);
    }
    this.checkAllowance(task);
    return task;
  }

  /**
   * The job's cost on the data it really got, before a worker allocates any of it: the dataset may
   * have grown since its cost was estimated at the claim. Over the allowance: OUT_OF_MEMORY.
   */
  private checkAllowance(task: TrainTask): void {
    const triplets = task.triplets ?? task.indexedTriplets;
    const data = task.params.source === 'samples' ? task.samples : triplets;
    if (!data || task.memoryBytes === undefined) return;
    const cost = this.jobCost(task.params, {
      dimension: data.dimension,
      tripletCount: triplets?.count ?? 0,
      sampleCount: task.samples?.count ?? 0,
    });
    if (cost.bytes > task.memoryBytes) {
      throw new AllowanceError(
        `the job needs an estimated ${formatBytes(cost.bytes)} for the data it got, over its allowance of ${formatBytes(task.memoryBytes)} (JOB_MEMORY_BUDGET_MB)`,
      );
    }
  }

  private launch(job: JobRecord, bytes: number): Promise<void> {
    return isReindexJob(job) ? this.launchReindex(job, bytes) : this.launchTraining(job as TrainJobRecord, bytes);
  }

  private newRunning(job: JobRecord, bytes: number): Running {
    return {
      job,
      exec: undefined as never,
      lastWrite: 0,
      pending: null,
      timer: null,
      stopping: null,
      done: false,
      writes: Promise.resolve(),
      bytes,
      eta: newEtaState(),
      lastProgress: { iteration: 0, maxIterations: 0, activeFraction: 0, elapsedMs: 0, etaMs: null },
      sentPhase: null,
    };
  }

  private async launchTraining(job: TrainJobRecord, bytes: number): Promise<void> {
    const control = new Int32Array(new SharedArrayBuffer(4));
    const r = this.newRunning(job, bytes);
    this.phase(r, 'loading', job.params.maxIterations);
    // The heap holds what the estimate counts too (PCA's number[][], small arrays): capped by it.
    const heapMb = Math.min(this.opts.heapMb, Math.ceil((bytes + WORKER_MEMORY_SLACK) / MiB));
    // A job the spare will not take starts its own thread now, to come up while its data is read.
    const plan = { compute: this.opts.compute, memoryBytes: bytes + WORKER_MEMORY_SLACK };
    const early = this.spare?.fits(heapMb) ? null : new WaitingWorker(heapMb, plan);
    let task: TrainTask;
    try {
      task = await this.taskFor(job, control, bytes);
    } catch (e) {
      await early?.stop();
      await r.writes;
      if ((e as { code?: string }).code === 'STORAGE_UNAVAILABLE')
        return this.leaveToLease(job.id, (e as Error).message);
      const error =
        e instanceof AllowanceError
          ? { code: 'OUT_OF_MEMORY', message: e.message }
          : e instanceof BatchError
            ? { code: 'BATCH_EXCEEDS_DATA', message: e.message }
            : { code: 'TRAINING_FAILED', message: `could not read the training data: ${(e as Error).message}` };
      await this.finish(job.id, 'failed', error, this.owner);
      return;
    }
    if (this.closing) {
      await early?.stop();
      if (!this.abandoned) await this.opts.store.releaseJobs(this.owner);
      return;
    }
    if (!(await this.stillHeld(job))) {
      await early?.stop();
      return;
    }
    this.running.set(job.id, r);
    this.opts.log.info({ jobId: job.id, kind: job.kind, datasetId: job.datasetId }, 'job started');
    this.emit(job);
    this.phase(r, 'initialising', job.params.maxIterations);
    const onMessage = (m: WorkerMessage) => this.onMessage(r, m);
    const onError = (e: Error) =>
      (e as Error & { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? this.fail(
            r,
            'OUT_OF_MEMORY',
            `the training worker ran out of memory (its heap cap is ${heapMb} MiB: the job's estimate, at most JOB_HEAP_LIMIT_MB=${this.opts.heapMb}): ${e.message}`,
          )
        : this.fail(r, 'WORKER_CRASHED', `the training worker crashed: ${e.message}`);
    const spare = this.spare?.take(task, onMessage, onError, heapMb) ?? null;
    if (spare) this.spareTaken++;
    const waited = spare ? null : (early?.run(task, onMessage, onError) ?? null);
    if (waited) this.earlyTaken++;
    else void early?.stop();
    const handle = spare ?? waited ?? startWorker(task, onMessage, onError, heapMb);
    r.exec = workerExecution(handle, control);
    void r.exec.exited.then((code) => {
      this.onExit(r, code);
      // the next spare starts once this job's thread is gone, not while it competes for the cores
      if (spare && !this.closing) this.spare?.warm();
    });
  }

  /**
   * Whether the job is still this runner's once its data is read: a cancel (here, while it was not
   * yet running, or on another replica) or a lost lease during a long read would otherwise let its
   * worker train, holding a slot and its memory, until the next renewal noticed. Renewing says so
   * (and extends the lease for the start); a store that does not answer leaves it to that renewal.
   */
  private async stillHeld(job: JobRecord): Promise<boolean> {
    const answer = await this.opts.store.renewJobLease(job.id, this.lease).catch(() => ({ held: true }) as const);
    if (answer.held) return true;
    this.opts.log.info(
      { jobId: job.id, reason: answer.reason, status: answer.status },
      'job not started: it is no longer this runner’s',
    );
    const now = await this.opts.store.getJob(job.id);
    if (now) this.emit(now);
    return false;
  }

  /**
   * Starts a reindex job's loop (src/jobs/reindex.ts) on this thread. Its checkpoint is the
   * gallery's pending embeddings: a job taken up again reads on from the first item without one.
   */
  private async launchReindex(job: ReindexJobRecord, bytes: number): Promise<void> {
    const backend = this.opts.reindex;
    if (!backend) {
      await this.finish(
        job.id,
        'failed',
        { code: 'REINDEX_FAILED', message: 'this server cannot run reindex jobs (it has no galleries)' },
        this.owner,
      );
      return;
    }
    if (this.closing) {
      if (!this.abandoned) await this.opts.store.releaseJobs(this.owner);
      return;
    }
    const r = this.newRunning(job, bytes);
    const stop = new AbortController();
    this.running.set(job.id, r);
    this.opts.log.info({ jobId: job.id, kind: job.kind, ...job.reindex }, 'job started');
    this.emit(job);
    this.phase(r, 'loading', 0);
    const outcome = runReindex(job, backend, {
      owner: this.owner,
      signal: stop.signal,
      onProgress: (p) => {
        if (!r.done && !r.stopping) this.progress(r, p);
      },
    }).then((o) => this.reindexEnded(r, o));
    r.exec = { stop: () => stop.abort(), kill: () => stop.abort(), exited: outcome.then(() => 0) };
    void r.exec.exited.then((code) => this.onExit(r, code));
  }

  /** Writes what a reindex loop's outcome means for its job, in order with its other writes. */
  private async reindexEnded(r: Running, o: ReindexOutcome): Promise<void> {
    switch (o.type) {
      case 'committed':
        // the commit wrote the final progress with the job's success
        r.done = true;
        if (r.timer) clearTimeout(r.timer);
        r.pending = null;
        this.opts.log.info({ jobId: r.job.id, metrics: o.job.metrics }, 'job succeeded');
        this.emit(o.job);
        return;
      case 'stopped':
        return;
      case 'lost':
        r.stopping ??= 'lost';
        this.opts.log.warn({ jobId: r.job.id, code: o.code }, `the reindex was not committed: ${o.message}`);
        return;
      case 'interrupted':
        r.stopping ??= 'lost';
        this.leaveToLease(r.job.id, o.message);
        return;
      case 'aborted': {
        // A cancel elsewhere releases the gallery first: the lease then says the job is over.
        if (r.stopping) return;
        const why = await this.opts.store.renewJobLease(r.job.id, this.lease).catch(() => ({ held: true }) as const);
        if (!why.held) return this.lose(r, why);
        this.fail(r, 'REINDEX_ABORTED', o.message);
        await r.writes;
        return;
      }
      case 'gone':
        // nothing is left to move: the job ends as the delete's own cancel would have ended it
        this.opts.log.info({ jobId: r.job.id }, `the reindex ends cancelled: ${o.message}`);
        this.end(r, 'cancelled', null);
        await r.writes;
        return;
      case 'failed':
        this.fail(r, o.code, o.message);
        await r.writes;
        return;
    }
  }

  private onMessage(r: Running, m: WorkerMessage): void {
    if (r.done) return;
    switch (m.type) {
      case 'progress':
        this.progress(r, finiteProgress(m.progress)!);
        return;
      case 'trained':
        if (!r.stopping) this.progress(r, { ...(r.pending ?? r.lastProgress), phase: 'saving' });
        this.flushProgress(r);
        if (r.stopping) return; // cancelled or parked while it finished: keep that outcome
        this.succeed(r, m);
        return;
      case 'failed':
        this.fail(r, m.code, m.message);
        return;
      case 'checkpoint':
        this.checkpoint(r, m.iteration, m.data);
        return;
      case 'computeReady':
        if (m.planned !== 'none') this.plannedTaken++;
        return;
      case 'resumed':
        this.opts.log.info({ jobId: r.job.id, iteration: m.iteration }, 'job resumed from checkpoint');
        return;
      case 'resumeRejected':
        this.opts.log.warn(
          { jobId: r.job.id, reason: m.message },
          'job checkpoint does not match the run; the job starts from zero',
        );
        void this.write(r, () => this.opts.store.discardCheckpoint(r.job.id, this.owner));
        return;
      default:
        return;
    }
  }

  /**
   * A job whose store read met an outage (decision 0023) is not failed: the refusal says nothing about
   * the job, and a failure written as the storage comes back would end it for good. Nothing more is
   * written or renewed; its lease runs out and a claim (here or elsewhere) takes it up again from its
   * checkpoint, as after a crash (0021).
   */
  private leaveToLease(jobId: string, message: string): void {
    this.opts.log.warn({ jobId }, `the job is left to its lease, to be taken up again: ${message}`);
  }

  /** A progress point of the job's own (no figures yet), written at once so a client sees the job move. */
  private phase(r: Running, phase: JobPhase, maxIterations: number): void {
    const iteration = r.job.resumedFromIteration ?? 0;
    this.progress(r, { iteration, maxIterations, activeFraction: 0, elapsedMs: 0, phase });
    this.flushProgress(r);
  }

  private progress(r: Running, reported: ReportedProgress): void {
    const p = withEta(r.eta, { ...reported, phase: reported.phase ?? 'training' });
    // A point of another phase than the last one written is written now (with any point still
    // pending first): coalescing would let the next point of the old phase overwrite it, and a
    // client would never see, say, `validating` (docs/decisions/0038).
    if (p.phase !== r.sentPhase) {
      this.flushProgress(r);
      r.pending = p;
      r.lastProgress = p;
      this.flushProgress(r);
      return;
    }
    r.pending = p;
    r.lastProgress = p;
    const now = Date.now();
    if (now - r.lastWrite >= PROGRESS_WRITE_MS) this.flushProgress(r);
    else if (!r.timer) r.timer = setTimeout(() => this.flushProgress(r), PROGRESS_WRITE_MS - (now - r.lastWrite));
  }

  /** Runs a job's store writes one after another, in the order they were asked for. */
  private write(r: Running, step: () => Promise<void>): Promise<void> {
    r.writes = r.writes
      .then(step)
      .catch((e: Error) => this.opts.log.error({ err: e, jobId: r.job.id }, 'could not write job state'));
    return r.writes;
  }

  /** Stores the checkpoint in order with the job's other writes; refused, the lease is gone. */
  private checkpoint(r: Running, iteration: number, data: Uint8Array): void {
    if (r.stopping) return;
    void this.write(r, async () => {
      if (r.stopping || !this.opts.store.isOpen()) return;
      const saved = await this.opts.store.saveCheckpoint(r.job.id, this.owner, iteration, data);
      if (saved) return;
      // not this runner's job any more: the renewal's answer says why
      const why = await this.opts.store.renewJobLease(r.job.id, this.lease);
      if (!why.held) await this.lose(r, why);
    });
  }

  private flushProgress(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    const progress = r.pending;
    if (!progress) return;
    r.pending = null;
    r.lastWrite = Date.now();
    r.sentPhase = progress.phase ?? null;
    void this.write(r, async () => {
      if (r.stopping === 'lost' || !this.opts.store.isOpen()) return;
      await this.opts.store.updateJobProgress(r.job.id, progress, this.owner);
      const job = await this.opts.store.getJob(r.job.id);
      if (job) this.emit(job);
    });
  }

  private succeed(r: Running, m: Extract<WorkerMessage, { type: 'trained' }>): void {
    const p = r.job.params!;
    r.done = true;
    void this.write(r, async () => {
      try {
        const { job, model, alias } = await this.whileStorageAway(r, () =>
          this.opts.store.succeedJob(
            r.job.id,
            {
              jobId: r.job.id,
              name: r.job.modelName,
              inputDimension: m.d,
              outputDimension: m.k,
              normalize: embeddedNormalized(p, m.metrics),
              trainingParams: p,
              metrics: finiteMetrics(m.metrics),
              weights: m.W,
            },
            finiteMetrics(m.metrics),
            this.owner,
          ),
        );
        this.opts.onModelCreated();
        this.opts.log.info({ jobId: job.id, modelId: model.id, metrics: m.metrics }, 'job succeeded');
        if (alias) this.opts.logAlias?.(alias, job.promote ? `job ${job.id} promoted its model` : 'the first model');
        this.emit(job);
      } catch (e) {
        // cancelled or parked while the model was written: that outcome stands
        if (r.stopping || !this.opts.store.isOpen()) return;
        // ended elsewhere, or another runner holds it now: not this runner's to write
        const code = (e as { code?: string }).code;
        if (code === 'JOB_FINISHED' || code === 'LEASE_LOST') {
          r.stopping = 'lost';
          this.opts.log.warn({ jobId: r.job.id, code }, `the model was not stored: ${(e as Error).message}`);
          return;
        }
        // still away as the runner closes: the job stays running until its lease runs out and a claim
        // trains it again from its checkpoint, as after a crash (0021)
        if (code === 'STORAGE_UNAVAILABLE') return;
        await this.finish(
          r.job.id,
          'failed',
          { code: 'STORE_FAILED', message: `could not store the model: ${(e as Error).message}` },
          this.owner,
        );
      }
    });
  }

  /**
   * `write`, tried again while the storage is unavailable (a PostgreSQL restart, 0023), until it
   * answers, the job stops here (cancelled, parked, lost) or the runner closes. A trained model is
   * worth the wait: failing the job would throw the training away, and the storage may be back by
   * the time that failure is written. Other errors, and the last refusal, are the caller's.
   */
  private async whileStorageAway<T>(r: Running, write: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const wait = Math.round(backoffDelay(attempt, STORE_RETRY_MS, STORE_RETRY_MAX_MS));
      try {
        return await write();
      } catch (e) {
        if ((e as { code?: string }).code !== 'STORAGE_UNAVAILABLE') throw e;
        this.opts.log.warn(
          { jobId: r.job.id, retryInMs: wait },
          `the model waits for the storage: ${(e as Error).message}`,
        );
        await new Promise((done) => setTimeout(done, wait));
        if (r.stopping || this.closing || !this.opts.store.isOpen()) throw e;
      }
    }
  }

  private fail(r: Running, code: string, message: string): void {
    this.end(r, 'failed', { code, message });
  }

  private end(r: Running, status: 'failed' | 'cancelled', error: { code: string; message: string } | null): void {
    if (r.done) return;
    r.done = true;
    this.flushProgress(r);
    if (r.stopping === 'park' || r.stopping === 'lost') return;
    void this.write(r, () => this.finish(r.job.id, status, error, this.owner));
  }

  /** Ends a job that produced no model, and tells the listeners; with `owner`, only while it holds the job. */
  private async finish(
    id: string,
    status: 'failed' | 'cancelled',
    error: { code: string; message: string } | null,
    owner?: string,
  ): Promise<void> {
    if (!this.opts.store.isOpen()) return;
    const job = await this.opts.store.finishJob(id, status, error, null, owner);
    if (owner !== undefined && job.status !== status) return; // no longer this runner's
    if (status === 'failed') this.opts.log.warn({ jobId: id, ...error }, 'job failed');
    await this.release(job);
    this.emit(job);
  }

  /**
   * A reindex job that ended without committing lets its gallery go (the pending embeddings are
   * dropped; search never saw them). Should this not happen (a crash in between), the next reindex
   * of the gallery finds the job over and lets it go then (createJob, in the store).
   */
  private async release(job: JobRecord): Promise<void> {
    if (!isReindexJob(job) || job.status === 'succeeded' || !this.opts.reindex) return;
    await this.opts.reindex
      .abortReindex(job.reindex.galleryId, job.id)
      .catch((e: Error) =>
        this.opts.log.warn({ err: e, jobId: job.id }, 'could not release the gallery of an ended reindex job'),
      );
  }

  private onExit(r: Running, code: number): void {
    if (r.timer) clearTimeout(r.timer);
    if (!r.done && !r.stopping) {
      this.fail(
        r,
        code === 0 ? 'WORKER_EXITED' : 'WORKER_CRASHED',
        `the training worker exited with code ${code} before finishing`,
      );
    }
    r.done = true;
    void r.writes.then(() => {
      if (this.running.delete(r.job.id)) this.reserved -= r.bytes;
      this.pump();
    });
  }

  /** Cancels a queued or running job; the worker is asked to stop, then terminated if it lingers. */
  async cancel(id: string): Promise<JobRecord> {
    const r = this.running.get(id);
    // Marked first, so a model the worker finishes meanwhile is not stored over the cancellation.
    if (r && !r.stopping) {
      r.stopping = 'cancel';
      this.stopWorker(r);
    }
    const job = await this.opts.store.finishJob(id, 'cancelled', null);
    // a reindex that committed first is not cancelled: its gallery stays on the new model
    if (job.status === 'cancelled') {
      this.opts.log.info({ jobId: id }, 'job cancelled');
      await this.release(job);
    }
    this.emit(job);
    return job;
  }

  private stopWorker(r: Running): void {
    r.exec.stop();
  }

  /** Stops taking jobs; running ones go back to the queue so the next start (here or elsewhere) resumes them. */
  async close(): Promise<void> {
    this.closing = true;
    this.stopHeartbeat();
    const all = [...this.running.values()];
    for (const r of all) {
      if (!r.stopping) r.stopping = 'park';
      this.stopWorker(r);
    }
    await this.pumping;
    await this.beating;
    await Promise.all(
      all.map(async (r) => {
        await r.exec.exited;
        await r.writes;
      }),
    );
    await this.spare?.close();
    if (this.opts.store.isOpen() && !this.abandoned) await this.opts.store.releaseJobs(this.owner);
  }

  /**
   * Stops as a killed process would: heartbeat off, workers terminated, nothing written, nothing
   * parked; the jobs keep their lease until it expires and another runner takes them. For tests of
   * takeover (test/jobs/takeover.test.ts); close() afterwards writes nothing either.
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    this.closing = true;
    this.stopHeartbeat();
    const all = [...this.running.values()];
    for (const r of all) {
      r.stopping = 'lost';
      if (r.timer) clearTimeout(r.timer);
      r.exec.kill();
    }
    // writes asked for before this point may land (a process dies mid-write too); none after
    await Promise.all(all.map(async (r) => Promise.all([r.exec.exited, r.writes])));
    await this.pumping;
    await this.beating;
    await this.spare?.close();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private emit(job: JobRecord): void {
    this.events.emit('job', job);
  }
}
