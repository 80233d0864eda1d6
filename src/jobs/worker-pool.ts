// Starts one worker thread per task. Training and evaluation both run off the main thread.
import { Worker } from 'node:worker_threads';
import { taskTransfers, type Task, type WorkerMessage } from './messages.js';

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
  const worker = new Worker(WORKER_URL, {
    workerData: task,
    transferList: taskTransfers(task),
    // A runaway job must not take the server down with it: its thread dies alone at this heap size.
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
  worker.on('message', onMessage);
  worker.on('error', onError);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, exited };
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
