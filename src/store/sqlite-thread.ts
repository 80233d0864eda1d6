// The SQLite store as the app runs it: SqliteDatabase lives in a thread of its own and every call
// is forwarded by message, so a slow or frozen disk (or a large write) stalls that thread, never
// the event loop that answers /healthz and serves cached models. Calls run in the order made,
// one at a time, as they did on the main thread. docs/decisions/0018-storage-health.md.
import { Worker } from 'node:worker_threads';
import { unavailableError } from '../domain/errors.js';
import { ASYNC_METHODS } from './async.js';
import { ChangeHub } from './change-feed.js';
import { changesOf } from './sqlite-changes.js';
import type { SqliteStore } from './sqlite.js';
import { detachArgs, OPENED_ID, receiveError, type StoreAnswer } from './sqlite-thread-protocol.js';
import type { Store, StoreHealth } from './types.js';

// Under tsx (tests, dev) this file is .ts and the thread needs the loader shim; built code runs the .js.
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./sqlite-worker-dev.mjs', import.meta.url)
  : new URL('./sqlite-worker.js', import.meta.url);

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

class SqliteThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = OPENED_ID + 1;
  /** why calls can no longer run (closed, the thread died); set once */
  private gone: string | undefined;
  /** the thread's word, with its last answer, on whether the database is still usable */
  private usable = true;
  readonly opened: Promise<unknown>;
  readonly exited: Promise<number>;

  constructor(readonly file: string) {
    this.worker = new Worker(WORKER_URL, { workerData: { file } });
    this.opened = new Promise((resolve, reject) => this.pending.set(OPENED_ID, { resolve, reject }));
    this.worker.on('message', (a: StoreAnswer) => this.answer(a));
    this.worker.on('error', (err) => this.fail(`the SQLite thread failed: ${err.message}`));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.fail(`the SQLite thread exited (code ${code})`);
        resolve(code);
      }),
    );
  }

  isOpen(): boolean {
    return this.gone === undefined && this.usable;
  }

  call(method: string, args: unknown[]): Promise<unknown> {
    if (this.gone) return Promise.reject(unavailableError(`${this.gone}: the database ${this.file} cannot be used`));
    const id = this.nextId++;
    const { args: sent, transfer } = detachArgs(args);
    const answer = new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
    // An idle thread does not keep the process alive; one with a call in flight does.
    if (this.pending.size === 1) this.worker.ref();
    this.worker.postMessage({ id, method, args: sent }, transfer);
    return answer;
  }

  async health(): Promise<StoreHealth> {
    if (this.gone) return { ok: false, reason: this.gone };
    return (await this.call('health', [])) as StoreHealth;
  }

  async close(): Promise<void> {
    if (this.gone) {
      await this.worker.terminate();
      return;
    }
    const closed = this.call('close', []);
    this.gone = 'the store is closed';
    await closed.catch(() => undefined);
    // The database is closed; the thread may not end by itself (a loader's port keeps it alive).
    await this.worker.terminate();
    await this.exited;
  }

  private answer(a: StoreAnswer): void {
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    this.usable = a.open;
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in a) p.reject(receiveError(a.error));
    else p.resolve(a.value);
  }

  private fail(why: string): void {
    this.gone ??= why;
    for (const p of this.pending.values())
      p.reject(unavailableError(`${why}: the database ${this.file} cannot be used`));
    this.pending.clear();
  }
}

/** Opens the database file in its own thread; rejects with the thread's reason when it cannot. */
export async function openThreadedSqliteStore(file: string): Promise<SqliteStore> {
  const thread = new SqliteThread(file);
  try {
    await thread.opened;
  } catch (err) {
    await thread.close();
    throw err;
  }
  const hub = new ChangeHub();
  const out: Record<string, unknown> = {};
  // The change feed hears of a write once the thread answered it (its arguments stay here:
  // detachArgs copies what it transfers).
  for (const name of Object.keys(ASYNC_METHODS)) {
    out[name] = async (...args: unknown[]) => {
      const result = await thread.call(name, args);
      for (const change of changesOf(name, args, result)) hub.emit(change);
      return result;
    };
  }
  Object.assign(out, {
    watch: hub.watch.bind(hub),
    close: () => thread.close(),
    health: () => thread.health(),
    isOpen: () => thread.isOpen(),
    location: file,
    path: file,
  });
  return out as unknown as Store & SqliteStore;
}
