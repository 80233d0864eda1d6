// The HNSW thread as the gallery cache uses it: one worker thread, started on the first build,
// holds every gallery index of this replica; calls are forwarded by message and run in the order
// made. The event loop never builds or searches a graph. docs/decisions/0036-hnsw-galleries.md.
//
// Builds go one at a time, and a build waits here, uncopied, until the one before it is done: a
// newer build of the same group (a gallery's next version) replaces a waiting one, and disposing a
// waiting build cancels it. Otherwise every small write to a large gallery queued another full
// copy of its rows in the thread, without bound.
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

interface WaitingBuild {
  key: string;
  group: string;
  rows: Float32Array;
  n: number;
  k: number;
  params: Partial<HnswParams>;
  resolve: (v: HnswBuilt) => void;
  reject: (e: Error) => void;
}

/** Why a waiting build never ran: the caller's entry is gone or newer. */
export class BuildCancelled extends Error {
  override name = 'BuildCancelled';
}

export class HnswThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** the build sent to the thread and not yet answered */
  private inFlight: string | null = null;
  /** builds waiting for it, oldest first; at most one per group */
  private readonly waiting: WaitingBuild[] = [];

  /** true while a build is waiting or running: searches then go exact rather than wait behind it */
  get busy(): boolean {
    return this.inFlight !== null || this.waiting.length > 0;
  }

  /** Builds waiting behind the one in flight. */
  get waitingBuilds(): number {
    return this.waiting.length;
  }

  /** Builds sent to the thread since it was made. */
  get buildsSent(): number {
    return this.sent;
  }
  private sent = 0;

  /**
   * Builds the index `key` from a copy of the rows, taken when the build is sent (the copy is
   * transferred), and measures its recall@10. A later build of the same `group` that arrives while
   * this one waits rejects this one with BuildCancelled; so does dispose(key).
   */
  build(
    key: string,
    group: string,
    rows: Float32Array,
    n: number,
    k: number,
    params: Partial<HnswParams>,
  ): Promise<HnswBuilt> {
    if (this.closed) return Promise.reject(new Error('the HNSW thread is closed'));
    const done = new Promise<HnswBuilt>((resolve, reject) => {
      const build = { key, group, rows, n, k, params, resolve, reject };
      // in the replaced build's place: a gallery written during every build still gets its turn
      const older = this.waiting.findIndex((w) => w.group === group);
      if (older < 0) this.waiting.push(build);
      else this.waiting.splice(older, 1, build)[0].reject(new BuildCancelled(`build ${key} replaced it`));
    });
    this.sendNextBuild();
    return done;
  }

  /** Sends the oldest waiting build when none is in flight; never throws (a failure rejects that build). */
  private sendNextBuild(): void {
    while (this.inFlight === null && !this.closed) {
      const next = this.waiting.shift();
      if (!next) return;
      this.inFlight = next.key;
      let sent: Promise<unknown>;
      try {
        // the copy may fail for memory: that build fails, the next goes on
        const copy = next.rows.slice(0, next.n * next.k);
        const body = { op: 'build', key: next.key, rows: copy, n: next.n, k: next.k, params: next.params, recallSample: 200 } as const; // prettier-ignore
        sent = this.call(body, [copy.buffer]);
        this.sent++;
      } catch (e) {
        this.inFlight = null;
        next.reject(e as Error);
        continue;
      }
      // settled before the next is sent: the caller's continuation runs later, as a microtask
      sent.then(
        (v) => {
          next.resolve(v as HnswBuilt);
          this.settle();
        },
        (e: Error) => {
          next.reject(e);
          this.settle();
        },
      );
    }
  }

  private settle(): void {
    this.inFlight = null;
    this.sendNextBuild();
  }

  /** Up to `top` items per query, nearest first, at squared distances ≤ maxDistance. */
  async search(key: string, queries: Float32Array, q: number, top: number, maxDistance?: number): Promise<HnswFound> {
    const copy = queries.slice();
    return (await this.call({ op: 'search', key, queries: copy, q, top, maxDistance }, [copy.buffer])) as HnswFound;
  }

  /** Frees the index `key` (after any build of it already sent); a build of it still waiting never runs. */
  dispose(key: string): void {
    const i = this.waiting.findIndex((w) => w.key === key);
    if (i >= 0) {
      this.waiting.splice(i, 1)[0].reject(new BuildCancelled(`index ${key} was disposed before its build`));
      return;
    }
    if (!this.worker || this.closed) return;
    this.call({ op: 'dispose', key }, []).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('the HNSW thread is closed'));
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
