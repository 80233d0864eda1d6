// The HNSW thread as the gallery cache uses it: one worker thread, started on the first build,
// holds every gallery index of this replica; calls are forwarded by message and run in the order
// made. The event loop never builds or searches a graph. docs/decisions/0036-hnsw-galleries.md.
import { Worker } from 'node:worker_threads';
import type { HnswParams } from './hnsw-index.js';
import type { HnswAnswer, HnswBuilt, HnswCall, HnswFound } from './hnsw-protocol.js';

// Under tsx (tests, dev) this file is .ts and the thread needs the loader shim; built code runs the .js.
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./hnsw-worker-dev.mjs', import.meta.url)
  : new URL('./hnsw-worker.js', import.meta.url);

type CallBody<C> = C extends HnswCall ? Omit<C, 'id'> : never;

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class HnswThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** builds sent and not yet answered: a search waits behind them in the thread */
  private building = 0;

  /** true while a build is queued or running: searches then go exact rather than wait */
  get busy(): boolean {
    return this.building > 0;
  }

  /** Builds the index `key` from a copy of the rows (the copy is transferred) and measures its recall@10. */
  async build(key: string, rows: Float32Array, n: number, k: number, params: Partial<HnswParams>): Promise<HnswBuilt> {
    const copy = rows.slice(0, n * k);
    this.building++;
    try {
      return (await this.call({ op: 'build', key, rows: copy, n, k, params, recallSample: 200 }, [
        copy.buffer,
      ])) as HnswBuilt;
    } finally {
      this.building--;
    }
  }

  /** Up to `top` items per query, nearest first, at squared distances ≤ maxDistance. */
  async search(key: string, queries: Float32Array, q: number, top: number, maxDistance?: number): Promise<HnswFound> {
    const copy = queries.slice();
    return (await this.call({ op: 'search', key, queries: copy, q, top, maxDistance }, [copy.buffer])) as HnswFound;
  }

  /** Frees the index `key` (after any build of it already sent). */
  dispose(key: string): void {
    if (!this.worker || this.closed) return;
    this.call({ op: 'dispose', key }, []).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.fail('the HNSW thread is closed');
  }

  private start(): Worker {
    const w = new Worker(WORKER_URL);
    w.on('message', (a: HnswAnswer) => this.answer(a));
    w.on('error', (err) => this.fail(`the HNSW thread failed: ${err.message}`));
    w.once('exit', (code) => {
      if (this.worker === w) this.worker = undefined;
      this.fail(`the HNSW thread exited (code ${code})`);
    });
    w.unref();
    return w;
  }

  private call(body: CallBody<HnswCall>, transfer: ArrayBuffer[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the HNSW thread is closed'));
    this.worker ??= this.start();
    const id = this.nextId++;
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // An idle thread does not keep the process alive; one with a call in flight does.
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ ...body, id }, transfer);
    return answer;
  }

  private answer(a: HnswAnswer): void {
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    if (this.pending.size === 0) this.worker?.unref();
    if ('error' in a) p.reject(new Error(a.error));
    else p.resolve(a.value);
  }

  private fail(why: string): void {
    for (const p of this.pending.values()) p.reject(new Error(why));
    this.pending.clear();
  }
}
