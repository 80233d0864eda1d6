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

/** Runs a short task to its single answer (evaluation). */
export function runTask<T>(task: Task, pick: (m: WorkerMessage) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const h = startWorker(
      task,
      (m) => {
        if (settled) return;
        if (m.type === 'failed') {
          settled = true;
          reject(Object.assign(new Error(m.message), { code: m.code }));
          return;
        }
        const v = pick(m);
        if (v !== undefined) {
          settled = true;
          resolve(v);
        }
      },
      (e) => {
        if (!settled) {
          settled = true;
          reject(e);
        }
      },
    );
    void h.exited.then((code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`worker exited with code ${code} before answering`));
      }
    });
  });
}
