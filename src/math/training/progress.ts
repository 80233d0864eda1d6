// The clock, throttled progress reports and cancellation polling every trainer shares.
import { DEFAULT_PROGRESS_INTERVAL_MS } from '../defaults.js';

export interface Clock {
  now(): number;
}

/** Milliseconds from performance.now() where the runtime has it (monotonic), else Date.now(). */
export const systemClock: Clock = typeof performance !== 'undefined' ? performance : Date;

export interface ProgressHooks<P> {
  onProgress?: (p: P) => void;
  shouldStop?: () => boolean;
  progressIntervalMs?: number;
}

export interface ProgressReporter<P> {
  /** clock time the run started at */
  readonly start: number;
  /**
   * Calls onProgress(make(elapsedMs)) when forced or when the interval has passed since the last
   * report; returns whether it did. `make` runs only then, so a report's figures cost nothing otherwise.
   */
  report(force: boolean, make: (elapsedMs: number) => P): boolean;
  /** Polls shouldStop (false without one). */
  cancelled(): boolean;
}

export interface ProgressOptions {
  /** upper bound on the interval whatever the hooks ask, for trainers that promise a report at least this often */
  maxIntervalMs?: number;
  clock?: Clock;
}

/** Starts the run's clock now. */
export function createProgressReporter<P>(hooks: ProgressHooks<P>, opts: ProgressOptions = {}): ProgressReporter<P> {
  const clock = opts.clock ?? systemClock;
  const start = clock.now();
  const asked = hooks.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const interval = opts.maxIntervalMs === undefined ? asked : Math.min(asked, opts.maxIntervalMs);
  const { onProgress, shouldStop } = hooks;
  let last = -Infinity;
  return {
    start,
    report(force, make) {
      if (!onProgress) return false;
      const now = clock.now();
      if (!force && now - last < interval) return false;
      last = now;
      onProgress(make(now - start));
      return true;
    },
    cancelled: () => !!shouldStop?.(),
  };
}
