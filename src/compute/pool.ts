// A pool of worker threads that share one WebAssembly.Memory with the calling thread and run the
// kernels' numbered tasks (training slabs, gradient reduction, projection row blocks).
//
// The calling thread ("leader") takes part: with `threads` = 2 there is one helper worker. Work is
// handed out through a control block in the shared memory: the leader writes the operation,
// bumps a generation counter and wakes the helpers; every thread then claims task numbers with an
// atomic counter until none are left; the leader waits until every helper has checked in. The
// leader blocks (Atomics.wait) while it waits, so use the pool from a thread that may block — a
// job worker thread, a benchmark, a test — not from the HTTP thread.
//
// Works when created from inside a worker thread (nested workers). Helpers are unref'd and are
// told to quit by close().
import { Worker } from 'node:worker_threads';
import type { TaskRunner } from '../math/kernels/types.js';
import type { WasmHeap } from '../math/kernels/heap.js';

const GEN = 0;
const OP = 1;
const ARGS = 2;
const TASKS = 3;
const NEXT = 4;
const DONE = 5;
const ERROR = 6;
const QUIT = 7;
const READY = 8;
const CONTROL_INTS = 16;

// Runs inside each helper (eval'd, CommonJS): instantiate the shared module, then serve generations.
// A helper started before its memory exists (startHelpers) gets its start by message.
const HELPER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData) serve(workerData);
else parentPort.once('message', serve);
function serve({ module, memory, control, thread }) {
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, control, ${CONTROL_INTS});
// the generation is read before READY is announced: a leader that starts work the moment it sees
// READY bumps GEN after this read, so the first wait returns at once instead of missing the work
let seen = Atomics.load(ctl, ${GEN});
Atomics.add(ctl, ${READY}, 1);
Atomics.notify(ctl, ${READY});
for (;;) {
  Atomics.wait(ctl, ${GEN}, seen);
  const g = Atomics.load(ctl, ${GEN});
  if (g === seen) continue;
  seen = g;
  if (Atomics.load(ctl, ${QUIT}) !== 0) break;
  const op = ctl[${OP}], args = ctl[${ARGS}] >>> 0, tasks = ctl[${TASKS}];
  try {
    for (let t = Atomics.add(ctl, ${NEXT}, 1); t < tasks; t = Atomics.add(ctl, ${NEXT}, 1)) ex.runTask(op, args, t, thread);
  } catch (e) {
    Atomics.store(ctl, ${ERROR}, 1);
  }
  Atomics.add(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
}
}
`;

/**
 * Helper threads started before their memory exists: a thread's start (~50 ms) overlaps whatever
 * the caller waits for, and createPool hands them the memory. Unused, stop() ends them.
 */
export class StartedHelpers {
  private workers: Worker[] = [];

  /** Starts the threads−1 helpers of a future pool of `threads` threads. */
  constructor(readonly threads: number) {
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new RangeError(`threads must be a positive integer (got ${threads})`);
    for (let t = 1; t < threads; t++) {
      const w = new Worker(HELPER_SOURCE, { eval: true, workerData: null });
      w.on('error', () => {}); // a helper that failed before its pool: the pool's wait reports it
      w.unref();
      this.workers.push(w);
    }
  }

  /** helpers still waiting for a pool: 0 once one took them or they were stopped */
  get waiting(): number {
    return this.workers.length;
  }

  /** The waiting helpers, for a pool of `threads` threads; none (and these stopped) for another size. */
  take(threads: number): Worker[] | null {
    if (threads !== this.threads) {
      void this.stop();
      return null;
    }
    const taken = this.workers;
    this.workers = [];
    return taken.length > 0 ? taken : null;
  }

  /** ends the helpers that no pool took; idempotent */
  async stop(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Starts the threads−1 helpers of a future pool of `threads` threads. */
export function startHelpers(threads: number): StartedHelpers {
  return new StartedHelpers(threads);
}

export interface ComputePool extends TaskRunner {
  readonly memory: WebAssembly.Memory;
  /** stops the helpers; the pool must not be used afterwards */
  close(): Promise<void>;
}

/**
 * Starts threads−1 helpers on `memory` (shared), or hands it to helpers started earlier for as
 * many threads, and resolves once they are ready. The control block is allocated from `heap`.
 */
export async function createPool(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  heap: WasmHeap,
  threads: number,
  started?: StartedHelpers,
): Promise<ComputePool> {
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new RangeError(`threads must be a positive integer (got ${threads})`);
  const control = heap.alloc(CONTROL_INTS * 4);
  const ctl = () => new Int32Array(memory.buffer, control, CONTROL_INTS);
  ctl().fill(0);
  const helpers: Worker[] = [];
  const exits: Promise<unknown>[] = [];
  let failure: Error | null = null;
  // helpers started for another thread count are not this pool's
  const early = started?.take(threads) ?? null;
  for (let t = 1; t < threads; t++) {
    const start = { module, memory, control, thread: t };
    const w = early ? early[t - 1] : new Worker(HELPER_SOURCE, { eval: true, workerData: start });
    if (early) w.postMessage(start);
    w.on('error', (e) => {
      failure = e;
    });
    exits.push(new Promise((resolve) => w.once('exit', resolve)));
    helpers.push(w);
  }
  // wait (without blocking this thread's event loop) for every helper to instantiate
  const waitFrom = Date.now();
  while (Atomics.load(ctl(), READY) < threads - 1) {
    if (failure) throw failure;
    if (Date.now() - waitFrom > 30_000) throw new Error('compute pool helpers did not start within 30 s');
    await new Promise((r) => setTimeout(r, 2));
  }
  for (const w of helpers) w.unref();
  let closed = false;
  const nHelpers = threads - 1;

  return {
    threads,
    memory,
    run(op, args, tasks, local) {
      if (closed) throw new Error('compute pool is closed');
      if (nHelpers === 0 || tasks <= 1) {
        for (let t = 0; t < tasks; t++) local(op, args, t, 0);
        return;
      }
      const c = ctl();
      c[OP] = op;
      c[ARGS] = args | 0;
      c[TASKS] = tasks;
      Atomics.store(c, NEXT, 0);
      Atomics.store(c, DONE, 0);
      Atomics.store(c, ERROR, 0);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      let err: unknown = null;
      try {
        for (let t = Atomics.add(c, NEXT, 1); t < tasks; t = Atomics.add(c, NEXT, 1)) local(op, args, t, 0);
      } catch (e) {
        err = e;
      }
      for (let done = Atomics.load(c, DONE); done < nHelpers; done = Atomics.load(c, DONE)) {
        if (Atomics.wait(c, DONE, done, 10_000) === 'timed-out' && failure) throw failure;
      }
      if (err) throw err;
      if (Atomics.load(c, ERROR) !== 0) throw new Error('a compute pool helper failed a task');
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of helpers) w.ref(); // keep the event loop alive until they have exited
      const c = ctl();
      Atomics.store(c, QUIT, 1);
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      await Promise.all(exits);
      heap.release(control);
    },
  };
}
