// Every request body still arriving is watched: a body that stops arriving is ended with 408
// BODY_TIMEOUT, a client that hangs up mid-body is a client abort (logged as one, not as a server
// fault), and a shutdown ends the bodies still arriving with 503 SHUTTING_DOWN.
//
// No stream or timer per request (a Transform a body cost JSON /embed ~11% of its rate): one
// sweep timer for the whole app reads each watched socket's byte count every tick, and a body
// whose socket took no byte for BODY_IDLE_TIMEOUT_MS while its reader waited is failed. Readers
// read the request itself; a failure reaches them as an 'error' event on it, without destroying
// it, so the answer (408, 503) still goes out on the socket before it is closed.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { AppError } from '../errors.js';

/** The client went away before its body was complete: nobody is left to answer. */
export class ClientAbortError extends AppError {
  constructor() {
    super(400, 'CLIENT_ABORTED', 'the client closed the connection before the request body was complete');
  }
}

/** Whether err is Node's report of raw's client hanging up mid-body (the request is then destroyed). */
export function isClientAbort(err: Error & { code?: string }, raw: IncomingMessage): boolean {
  return err instanceof ClientAbortError || (err.code === 'ECONNRESET' && raw.destroyed && !raw.complete);
}

/** Whether the request announces a body (a chunked one, or a Content-Length above 0). */
function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

interface Watch {
  /** the socket's bytesRead at the last tick it changed (-1: not read yet) */
  bytes: number;
  /** the tick at which a byte last arrived or the reader was last behind */
  seen: number;
}

export class BodyGuard {
  private readonly open = new Map<IncomingMessage, Watch>();
  private readonly tickMs: number;
  /** ticks without a byte after which a waiting body is failed */
  private readonly idleTicks: number;
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {
    // A body times out between idleMs and idleMs plus two ticks (one to learn its byte count).
    this.tickMs = Math.min(1000, Math.max(5, Math.floor(idleMs / 8)));
    this.idleTicks = Math.ceil(idleMs / this.tickMs);
  }

  /** Bodies still arriving. */
  get size(): number {
    return this.open.size;
  }

  /** The stream the request's body is read from: the request itself, watched while its body arrives. */
  wrap(raw: IncomingMessage, payload: Readable): Readable {
    if (hasBody(raw) && !raw.complete) {
      this.open.set(raw, { bytes: -1, seen: this.ticks });
      if (this.timer === undefined) {
        this.timer = setInterval(() => this.sweep(), this.tickMs);
        this.timer.unref();
      }
    }
    return payload;
  }

  private sweep(): void {
    const now = ++this.ticks;
    for (const [raw, w] of this.open) {
      if (raw.complete || raw.destroyed) {
        this.open.delete(raw);
        continue;
      }
      const bytes = raw.socket?.bytesRead ?? w.bytes;
      // The clock runs only while the reader waits for the client: bytes buffered in the request
      // mean the reader is behind (a slow store write), and the socket is paused by us, not them.
      if (bytes !== w.bytes || raw.readableLength > 0) {
        w.bytes = bytes;
        w.seen = now;
      } else if (now - w.seen >= this.idleTicks) {
        w.seen = now; // with no reader yet it stays watched: one may start reading later
        this.fail(
          raw,
          new AppError(
            408,
            'BODY_TIMEOUT',
            `no byte of the request body arrived for ${this.idleMs} ms (BODY_IDLE_TIMEOUT_MS)`,
            { connection: 'close' },
          ),
        );
      }
    }
  }

  /** Hands err to raw's readers and stops watching it; with no reader yet there is nobody to tell. */
  private fail(raw: IncomingMessage, err: AppError): void {
    if (raw.listenerCount('error') === 0) return;
    this.open.delete(raw);
    raw.emit('error', err);
  }

  /**
   * Whether raw's body is still arriving. A reply sent before then closes the connection: the
   * rest of the body would otherwise hold it, unread, until the request timeout.
   */
  arriving(raw: IncomingMessage): boolean {
    return this.open.has(raw) && !raw.complete;
  }

  /** Stops watching raw's body once its request is answered. */
  finish(raw: IncomingMessage): void {
    this.open.delete(raw);
  }

  /** Ends every body still arriving with err (at shutdown: their requests are answered and closed). */
  abortAll(err: () => AppError): void {
    for (const raw of [...this.open.keys()]) if (!raw.complete) this.fail(raw, err());
    this.close();
  }

  /** Stops the sweep timer. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
