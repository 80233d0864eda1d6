// Starts one worker thread per task. Training and evaluation both run off the main thread.
import { Worker } from 'node:worker_threads';
import type { ComputeSettings } from '../compute/index.js';
import {
  taskTransfers,
  type ComputePlan,
  type Task,
  type TaskMessage,
  type WorkerMessage,
  type WorkerStart,
} from './messages.js';

// Under tsx (tests, dev) this file is .ts and the worker needs the loader shim; built code runs worker.js.
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./worker-dev.mjs', import.meta.url)
  : new URL('./worker.js', import.meta.url);

export interface WorkerHandle {
  worker: Worker;
  /** resolves when the thread has exited, with its exit code */
  exited: Promise<number>;
}

/** Default cap on a worker's JS heap; vectors live outside it, in typed arrays and WebAssembly memory. */
export const DEFAULT_HEAP_MB = 4096;

export function startWorker(
  task: Task,
  onMessage: (m: WorkerMessage) => void,
  onError: (e: Error) => void,
  heapMb = DEFAULT_HEAP_MB,
): WorkerHandle {
  const start: WorkerStart = task;
  const worker = new Worker(WORKER_URL, {
    workerData: start,
    transferList: taskTransfers(task),
    // A runaway job must not take the server down with it: its thread dies alone at this heap size.
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
  return handleOf(worker, onMessage, onError);
}

/** Listens to a worker that runs a task: its messages, its errors and its exit. */
function handleOf(worker: Worker, onMessage: (m: WorkerMessage) => void, onError: (e: Error) => void): WorkerHandle {
  worker.on('message', onMessage);
  worker.on('error', onError);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, exited };
}

/**
 * The heap cap of the spare worker. Jobs whose own cap (estimate + 64 MiB) is at most this take it:
 * their JS heap may then grow to this cap rather than theirs (never below 104 MiB); their
 * WebAssembly memory, where their vectors live, keeps its exact maximum (docs/decisions/0054).
 */
export const SPARE_HEAP_MB = 256;
/** A waiting worker asked to stop that has not exited by then (still loading its modules, say) is terminated. */
const WAITING_STOP_MS = 1000;

/**
 * A worker started before its task exists: its thread comes up and loads its modules while the
 * caller reads the task's data, then run() hands it the task by message. stop() ends it unused.
 * With a compute plan it also builds that backend meanwhile (a spare, whose task is not known
 * yet, has none).
 */
export class WaitingWorker {
  private worker: Worker | null;

  constructor(
    readonly heapMb: number,
    plan?: ComputePlan,
  ) {
    const start: WorkerStart = plan ? { plan } : null;
    this.worker = new Worker(WORKER_URL, {
      workerData: start,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
    });
    // a worker that fails or ends before its task is dropped; run() then answers null
    const drop = () => {
      if (this.worker === worker) this.worker = null;
    };
    const worker = this.worker;
    worker.on('error', drop);
    worker.once('exit', drop);
  }

  /** Whether run() would hand the task over (the thread has not failed or ended). */
  get alive(): boolean {
    return this.worker !== null;
  }

  /** Does not keep the process alive while it waits. */
  unref(): void {
    this.worker?.unref();
  }

  /** The worker running `task`, or null when it failed or ended while it waited. */
  run(task: Task, onMessage: (m: WorkerMessage) => void, onError: (e: Error) => void): WorkerHandle | null {
    const worker = this.worker;
    if (!worker) return null;
    this.worker = null;
    worker.removeAllListeners();
    worker.ref();
    const handle = handleOf(worker, onMessage, onError);
    const message: TaskMessage = { task };
    worker.postMessage(message, taskTransfers(task));
    return handle;
  }

  /**
   * Ends a waiting worker the way a task's worker ends, by exiting (terminate() would cut off what
   * the thread does at its exit, such as writing its coverage); terminated if it has not within 1 s.
   */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    const stop: TaskMessage = { stop: true };
    worker.postMessage(stop);
    const late = setTimeout(() => void worker.terminate(), WAITING_STOP_MS);
    await exited;
    clearTimeout(late);
  }
}

/**
 * One training worker started ahead of the next small job: its thread up and its modules loaded,
 * it waits for the task by message, so that job skips the ~0.15 s of a thread's start. Idle, it
 * does not keep the process alive. warm() starts one when none waits; take() hands one a task.
 */
export class SpareWorker {
  private idle: WaitingWorker | null = null;
  private closed = false;

  /** `compute`: the settings of the tasks it expects, for the helper threads it starts while idle */
  constructor(
    readonly heapMb: number,
    private readonly compute?: ComputeSettings,
  ) {}

  warm(): void {
    if (this.closed || this.idle?.alive) return;
    this.idle = new WaitingWorker(this.heapMb, this.compute && { compute: this.compute });
    this.idle.unref();
  }

  /** Whether a task with this heap cap would take the waiting spare. */
  fits(heapMb: number): boolean {
    return !!this.idle?.alive && heapMb <= this.heapMb;
  }

  /** The waiting worker running `task`, or null when none waits or the task's cap is above the spare's. */
  take(
    task: Task,
    onMessage: (m: WorkerMessage) => void,
    onError: (e: Error) => void,
    heapMb: number,
  ): WorkerHandle | null {
    if (!this.fits(heapMb)) return null;
    const spare = this.idle!;
    this.idle = null;
    return spare.run(task, onMessage, onError);
  }

  async close(): Promise<void> {
    this.closed = true;
    const spare = this.idle;
    this.idle = null;
    await spare?.stop();
  }
}

export interface RunTaskOptions {
  /** aborting terminates the worker (and the compute threads it started); the task rejects */
  signal?: AbortSignal;
  heapMb?: number;
}

/** Why a task ended without its answer: its signal was aborted. */
export class TaskAbortedError extends Error {
  readonly code = 'TASK_ABORTED';
}

/**
 * Runs a short task (evaluation, an index-triplet gather) to its single answer. It settles only
 * once the thread has exited, so a caller counting running tasks counts live threads.
 */
export function runTask<T>(
  task: Task,
  pick: (m: WorkerMessage) => T | undefined,
  opts: RunTaskOptions = {},
): Promise<T> {
  if (opts.signal?.aborted) return Promise.reject(new TaskAbortedError('the task was aborted before it started'));
  return new Promise((resolve, reject) => {
    let outcome: { ok: true; value: T } | { ok: false; error: Error } | null = null;
    const settle = (o: NonNullable<typeof outcome>) => {
      if (!outcome) outcome = o;
    };
    const h = startWorker(
      task,
      (m) => {
        if (m.type === 'failed') settle({ ok: false, error: Object.assign(new Error(m.message), { code: m.code }) });
        else {
          const v = pick(m);
          if (v !== undefined) settle({ ok: true, value: v });
        }
      },
      (e) => settle({ ok: false, error: e }),
      opts.heapMb,
    );
    const abort = () => {
      settle({ ok: false, error: new TaskAbortedError('the task was aborted') });
      void h.worker.terminate();
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    void h.exited.then((code) => {
      opts.signal?.removeEventListener('abort', abort);
      settle({ ok: false, error: new Error(`worker exited with code ${code} before answering`) });
      const o = outcome!;
      if (o.ok) resolve(o.value);
      else reject(o.error);
    });
  });
}
