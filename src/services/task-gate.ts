// Admission for heavy work (evaluations, index-triplet gathers): at most `capacity` run at once,
// up to `maxWaiting` more wait their turn, and the rest are refused at once with 503 and
// Retry-After, so a burst of requests can neither pile up threads nor memory.
import { AppError } from '../errors.js';

export class BusyError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(503, 'OVERLOADED', message);
  }
}

/** The error a request whose client hung up ends with; no client reads it. */
export function clientGone(what: string): AppError {
  return new AppError(499, 'CLIENT_CLOSED_REQUEST', `the client closed the connection; ${what} was stopped`);
}

export class TaskGate {
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(
    /** what runs, and the setting that caps it, for the 503's message */
    private readonly what: string,
    private readonly capacity: number,
    private readonly maxWaiting: number,
    private readonly retryAfterSeconds: number,
  ) {}

  /** how many run now */
  get active(): number {
    return this.running;
  }

  /** Runs `fn` once a slot is free; refuses when the queue is full; leaves the queue on abort. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(clientGone(this.what));
    if (this.running < this.capacity) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new BusyError(
          `${this.what}: ${this.running} already running, the most at once; retry after ${this.retryAfterSeconds} s`,
          this.retryAfterSeconds,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', leave);
        this.running++;
        resolve();
      };
      const leave = () => {
        this.waiting = this.waiting.filter((w) => w !== turn);
        reject(clientGone(this.what));
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.waiting.push(turn);
    });
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
  }
}
