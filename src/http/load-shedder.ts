// The load shedder: over MAX_EVENT_LOOP_DELAY_MS (or MAX_EVENT_LOOP_UTILIZATION) requests get 503
// OVERLOADED, and /readyz asks the same object, so readiness and shedding cannot disagree.
// It measures only from the moment the server listens: start-up (opening the store, compiling
// schemas, resuming jobs) blocks the loop by design and is nobody's overload. Before its first
// sample it has no evidence and sheds nothing.
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/** The histogram's timer period; its mean delay is over this (the timer's own period is not delay). */
const RESOLUTION_MS = 10;

export interface ShedderLimits {
  /** mean event-loop delay over a sample above which requests are shed (0 = off) */
  maxEventLoopDelayMs: number;
  /** event-loop utilisation over a sample above which requests are shed (0 = off) */
  maxEventLoopUtilization: number;
}

export type ShedderState = 'off' | 'starting' | 'ok' | 'overloaded';

export class LoadShedder {
  private histogram: IntervalHistogram | undefined;
  private elu: EventLoopUtilization | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sampled = false;
  /** mean event-loop delay of the last sample, ms */
  delayMs = 0;
  /** event-loop utilisation of the last sample, 0..1 */
  utilization = 0;

  constructor(
    private readonly limits: ShedderLimits,
    private readonly intervalMs = 1000,
  ) {}

  private get enabled(): boolean {
    return this.limits.maxEventLoopDelayMs > 0 || this.limits.maxEventLoopUtilization > 0;
  }

  /** Whether the measurement has begun (the server listens). */
  get measuring(): boolean {
    return this.histogram !== undefined;
  }

  /** Begins measuring (when the server listens); later calls do nothing. */
  start(): void {
    if (!this.enabled || this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.elu = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Closes the measurement window: the state from now on is what the loop did since the last one. */
  sample(): void {
    const h = this.histogram;
    if (!h || !this.elu) return;
    // No timer tick recorded means no evidence about the loop (a sample taken right after start).
    if (h.count > 0) this.delayMs = Math.max(0, h.mean / 1e6 - RESOLUTION_MS);
    h.reset();
    const now = performance.eventLoopUtilization();
    this.utilization = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    this.sampled = true;
  }

  get state(): ShedderState {
    if (!this.enabled) return 'off';
    if (!this.sampled) return 'starting';
    return this.overload() === undefined ? 'ok' : 'overloaded';
  }

  /** Why requests are shed now ("eventLoopDelay 1234 ms"), or undefined when they are not. */
  overload(): string | undefined {
    if (!this.sampled) return undefined;
    const { maxEventLoopDelayMs: maxDelay, maxEventLoopUtilization: maxElu } = this.limits;
    if (maxDelay > 0 && this.delayMs > maxDelay) return `eventLoopDelay ${Math.round(this.delayMs)} ms`;
    if (maxElu > 0 && this.utilization > maxElu) return `eventLoopUtilization ${this.utilization.toFixed(2)}`;
    return undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
    this.elu = undefined;
    this.timer = undefined;
  }
}
