// The job runner: claims queued jobs, TRAIN_CONCURRENCY at a time, runs each in a worker
// thread, writes progress at least once a second, and writes the model and final state.
import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { JobProgress, JobRecord, Store } from '../store/types.js';
import type { TrainJobParams, WorkerMessage } from './messages.js';
import { startWorker, type WorkerHandle } from './worker-pool.js';

/** How often progress reaches the database (the worker reports every 250 ms). */
const PROGRESS_WRITE_MS = 500;
/** A cancelled worker that has not stopped by then is terminated. */
const CANCEL_GRACE_MS = 1000;

interface Running {
  job: JobRecord;
  handle: WorkerHandle;
  control: Int32Array;
  lastWrite: number;
  pending: JobProgress | null;
  timer: NodeJS.Timeout | null;
  /** why the runner stopped it: the job ends cancelled, or goes back to the queue */
  stopping: 'cancel' | 'park' | null;
  done: boolean;
}

export interface RunnerOptions {
  store: Store;
  dbPath: string;
  concurrency: number;
  log: FastifyBaseLogger;
  onModelCreated: () => void;
  /** heap cap of each training worker, in MiB */
  heapMb: number;
}

export class JobRunner {
  /** Emits `job` with the job record whenever its state or progress changes. */
  readonly events = new EventEmitter();
  private running = new Map<string, Running>();
  private closing = false;
  /** pump() does nothing until start(): an app built with runJobs false keeps its jobs queued */
  private started = false;

  constructor(private readonly opts: RunnerOptions) {
    this.events.setMaxListeners(0);
  }

  /** Puts jobs a crash left running back in the queue, then starts work. */
  start(): void {
    this.started = true;
    const n = this.opts.store.requeueRunningJobs();
    if (n > 0) this.opts.log.info({ jobs: n }, 'requeued jobs left running by the last process');
    this.pump();
  }

  get activeCount(): number {
    return this.running.size;
  }

  /** Starts queued jobs while there is room. */
  pump(): void {
    while (this.started && !this.closing && this.running.size < this.opts.concurrency) {
      const next = this.opts.store.nextQueuedJob();
      if (!next) return;
      this.launch(this.opts.store.markJobRunning(next.id));
    }
  }

  private launch(job: JobRecord): void {
    const control = new Int32Array(new SharedArrayBuffer(4));
    const r: Running = { job, handle: undefined as never, control, lastWrite: 0, pending: null, timer: null, stopping: null, done: false };
    this.running.set(job.id, r);
    this.opts.log.info({ jobId: job.id, datasetId: job.datasetId }, 'job started');
    this.emit(job);
    r.handle = startWorker(
      {
        kind: 'train',
        dbPath: this.opts.dbPath,
        jobId: job.id,
        datasetId: job.datasetId,
        params: job.params as unknown as TrainJobParams,
        control: control.buffer as SharedArrayBuffer,
      },
      (m) => this.onMessage(r, m),
      (e) =>
        (e as Error & { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? this.fail(r, 'OUT_OF_MEMORY', `the training worker ran out of memory (JOB_HEAP_LIMIT_MB=${this.opts.heapMb}): ${e.message}`)
          : this.fail(r, 'WORKER_CRASHED', `the training worker crashed: ${e.message}`),
      this.opts.heapMb,
    );
    void r.handle.exited.then((code) => this.onExit(r, code));
  }

  private onMessage(r: Running, m: WorkerMessage): void {
    if (r.done) return;
    switch (m.type) {
      case 'progress':
        this.progress(r, { ...m.progress });
        return;
      case 'trained':
        this.flushProgress(r);
        if (r.stopping) return; // cancelled or parked while it finished: keep that outcome
        this.succeed(r, m);
        return;
      case 'failed':
        this.fail(r, m.code, m.message);
        return;
      default:
        return;
    }
  }

  private progress(r: Running, p: JobProgress): void {
    r.pending = p;
    const now = Date.now();
    if (now - r.lastWrite >= PROGRESS_WRITE_MS) this.flushProgress(r);
    else if (!r.timer) r.timer = setTimeout(() => this.flushProgress(r), PROGRESS_WRITE_MS - (now - r.lastWrite));
  }

  private flushProgress(r: Running): void {
    if (r.timer) clearTimeout(r.timer);
    r.timer = null;
    if (!r.pending || !this.opts.store.isOpen()) return;
    this.opts.store.updateJobProgress(r.job.id, r.pending);
    r.pending = null;
    r.lastWrite = Date.now();
    const job = this.opts.store.getJob(r.job.id);
    if (job) this.emit(job);
  }

  private succeed(r: Running, m: Extract<WorkerMessage, { type: 'trained' }>): void {
    const p = r.job.params as unknown as TrainJobParams;
    try {
      const { job, model } = this.opts.store.succeedJob(
        r.job.id,
        {
          jobId: r.job.id,
          name: null,
          inputDimension: m.d,
          outputDimension: m.k,
          normalize: p.normalize,
          metrics: { ...m.metrics, margin: p.margin },
          weights: m.W,
        },
        m.metrics,
      );
      r.done = true;
      this.opts.onModelCreated();
      this.opts.log.info({ jobId: job.id, modelId: model.id, metrics: m.metrics }, 'job succeeded');
      this.emit(job);
    } catch (e) {
      this.fail(r, 'STORE_FAILED', `could not store the model: ${(e as Error).message}`);
    }
  }

  private fail(r: Running, code: string, message: string): void {
    if (r.done) return;
    r.done = true;
    this.flushProgress(r);
    if (r.stopping === 'park' || !this.opts.store.isOpen()) return;
    const job = this.opts.store.finishJob(r.job.id, 'failed', { code, message });
    this.opts.log.warn({ jobId: r.job.id, code, message }, 'job failed');
    this.emit(job);
  }

  private onExit(r: Running, code: number): void {
    if (r.timer) clearTimeout(r.timer);
    if (!r.done && !r.stopping) {
      this.fail(r, code === 0 ? 'WORKER_EXITED' : 'WORKER_CRASHED', `the training worker exited with code ${code} before finishing`);
    }
    r.done = true;
    this.running.delete(r.job.id);
    this.pump();
  }

  /** Cancels a queued or running job; the worker is asked to stop, then terminated if it lingers. */
  cancel(id: string): JobRecord | undefined {
    const store = this.opts.store;
    const r = this.running.get(id);
    const job = store.finishJob(id, 'cancelled', null);
    if (r && !r.stopping) {
      r.stopping = 'cancel';
      this.stopWorker(r);
    }
    this.opts.log.info({ jobId: id }, 'job cancelled');
    this.emit(job);
    return job;
  }

  private stopWorker(r: Running): void {
    Atomics.store(r.control, 0, 1);
    const t = setTimeout(() => void r.handle.worker.terminate(), CANCEL_GRACE_MS);
    void r.handle.exited.then(() => clearTimeout(t));
  }

  /** Stops taking jobs; running ones go back to the queue so the next start resumes them. */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.running.values()];
    for (const r of all) {
      r.stopping = 'park';
      this.stopWorker(r);
    }
    await Promise.all(all.map((r) => r.handle.exited));
    if (this.opts.store.isOpen()) this.opts.store.requeueRunningJobs();
  }

  private emit(job: JobRecord): void {
    this.events.emit('job', job);
  }
}
