// Helper threads that run kernel operations for a thread that must never block — the HTTP
// thread. It shares the caller's WebAssembly.Memory: the caller lays out the operation's inputs
// in that memory, posts (op, args, tasks), and awaits; the helper runs every task and posts back.
// While the helper multiplies, the HTTP thread keeps reading and writing sockets, so a binary
// /embed batch costs the event loop only its I/O.
//
// Each helper runs its jobs one at a time in the order posted. A worker is ref'd only while it
// has jobs outstanding, so idle helpers never keep the process alive.
import { Worker } from 'node:worker_threads';
import type { AsyncTaskRunner } from '../math/kernels/types.js';

// CommonJS, eval'd: instantiate the shared module, then run what is posted.
const HELPER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
parentPort.on('message', (m) => {
  const [id, op, args, tasks] = m;
  try {
    for (let t = 0; t < tasks; t++) ex.runTask(op, args, t, 0);
    parentPort.postMessage(id);
  } catch (e) {
    parentPort.postMessage(-id);
  }
});
`;

export interface AsyncRunner extends AsyncTaskRunner {
  readonly helpers: number;
  /** stops the helpers; pending jobs are rejected */
  close(): Promise<void>;
}

interface Helper {
  worker: Worker;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
  failure: Error | null;
}

/**
 * `helpers` threads (started on first use), each running whole jobs one at a time; a job goes
 * to the helper with the fewest outstanding jobs. Results never depend on which helper ran a job.
 */
export function createAsyncRunner(module: WebAssembly.Module, memory: WebAssembly.Memory, helpers = 1): AsyncRunner {
  if (!(Number.isInteger(helpers) && helpers >= 1))
    throw new RangeError(`helpers must be a positive integer (got ${helpers})`);
  const pool: Helper[] = [];
  let nextId = 1;
  let closed = false;

  function start(): Helper {
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory } });
    worker.unref();
    const h: Helper = { worker, pending: new Map(), failure: null };
    const settleAll = (e: Error) => {
      h.failure ??= e;
      for (const p of h.pending.values()) p.reject(e);
      h.pending.clear();
      worker.unref();
      const i = pool.indexOf(h);
      if (i >= 0) pool.splice(i, 1); // a dead helper is replaced on the next job
    };
    worker.on('message', (id: number) => {
      const key = Math.abs(id);
      const p = h.pending.get(key);
      if (!p) return;
      h.pending.delete(key);
      if (h.pending.size === 0) worker.unref();
      if (id > 0) p.resolve();
      else p.reject(new Error('a kernel helper thread failed a task'));
    });
    worker.on('error', settleAll);
    worker.on('exit', () => settleAll(new Error('the kernel helper thread exited')));
    pool.push(h);
    return h;
  }

  function pick(): Helper {
    let best: Helper | null = null;
    for (const h of pool) if (!best || h.pending.size < best.pending.size) best = h;
    if (best && (best.pending.size === 0 || pool.length >= helpers)) return best;
    return start();
  }

  return {
    helpers,
    run(op, args, tasks) {
      if (closed) return Promise.reject(new Error('kernel helpers are closed'));
      const h = pick();
      const id = nextId++;
      if (nextId > 0x3fffffff) nextId = 1;
      return new Promise<void>((resolve, reject) => {
        if (h.pending.size === 0) h.worker.ref();
        h.pending.set(id, { resolve, reject });
        h.worker.postMessage([id, op, args, tasks]);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(pool.map((h) => h.worker.terminate()));
    },
  };
}
