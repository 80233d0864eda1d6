// Memory held by request bodies (Buffers outside V8's heap) goes back to the system only when V8
// next collects garbage, and an idle service may not do so for a long time: after an attack of
// slow bodies the process would keep their memory. Once a burst of staged bodies has drained, one
// full collection gives it back — at most one every MIN_INTERVAL_MS, never on a request's path, and
// only once no request is in flight: a full collection holds the event loop for tens to hundreds of
// milliseconds, which requests still being served would wait through.
import v8 from 'node:v8';
import vm from 'node:vm';

const MIN_INTERVAL_MS = 10_000;
/** how soon a collection put off by requests in flight is tried again */
const IDLE_RECHECK_MS = 500;

/** V8's collector, exposed at run time (null where that fails). */
function exposeCollector(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
}

/**
 * One app's scheduler of full collections: coalesced, rate-limited and put off while `idle()` says
 * requests are in flight; close() cancels.
 */
export class MemoryReleaser {
  private gc: (() => void) | null | undefined;
  private last = 0;
  private pending: NodeJS.Timeout | undefined;
  /** full collections run (for tests and the log) */
  collections = 0;

  constructor(
    private readonly idle: () => boolean = () => true,
    private readonly collect: (() => void) | null = null,
  ) {}

  /** Schedules one full garbage collection, unless one is already scheduled. */
  readonly releaseSoon = (): void => {
    if (this.pending) return;
    this.schedule(Math.max(0, this.last + MIN_INTERVAL_MS - Date.now()));
  };

  private schedule(wait: number): void {
    this.pending = setTimeout(() => {
      this.pending = undefined;
      if (!this.idle()) return this.schedule(IDLE_RECHECK_MS);
      this.last = Date.now();
      this.collections++;
      this.gc ??= this.collect ?? exposeCollector();
      this.gc?.();
    }, wait);
    this.pending.unref();
  }

  close(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }
}
