// Every request body is read through a guard (a preParsing hook): a body that stops arriving is
// ended with 408 BODY_TIMEOUT, a client that hangs up mid-body is a client abort (logged as one,
// not as a server fault), and a shutdown ends the bodies still arriving with 503 SHUTTING_DOWN.
// The body's readers (Fastify's JSON reader, src/http/streams.ts, staged-body.ts) see an ordinary
// stream that errors with one of these AppErrors.
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { AppError } from '../errors.js';

/** The client went away before its body was complete: nobody is left to answer. */
export class ClientAbortError extends AppError {
  constructor() {
    super(400, 'CLIENT_ABORTED', 'the client closed the connection before the request body was complete');
  }
}

/** Whether the request announces a body (a chunked one, or a Content-Length above 0). */
function hasBody(raw: IncomingMessage): boolean {
  const length = raw.headers['content-length'];
  return raw.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export class BodyGuard {
  private readonly open = new Set<Transform>();
  private readonly byRequest = new WeakMap<IncomingMessage, Transform>();

  constructor(private readonly idleMs: number) {}

  /** Bodies still arriving. */
  get size(): number {
    return this.open.size;
  }

  /** The stream the request's body is read from: the raw request behind a guard, when it has a body. */
  wrap(raw: IncomingMessage, payload: Readable): Readable {
    if (!hasBody(raw) || raw.complete) return payload;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, done) {
        timer.refresh();
        done(null, chunk);
      },
    });
    // The clock runs only while the reader waits for the client: data buffered in the guard means
    // the reader is behind (a slow store write), and the socket is paused by us, not stalled by them.
    const onIdle = () => {
      if (guard.writableLength > 0 || guard.readableLength > 0) return timer.refresh();
      guard.destroy(
        new AppError(
          408,
          'BODY_TIMEOUT',
          `no byte of the request body arrived for ${this.idleMs} ms (BODY_IDLE_TIMEOUT_MS)`,
          { connection: 'close' },
        ),
      );
    };
    const timer = setTimeout(onIdle, this.idleMs);
    const aborted = () => {
      if (!raw.complete) guard.destroy(new ClientAbortError());
    };
    const done = () => {
      clearTimeout(timer);
      this.open.delete(guard);
      raw.off('aborted', aborted).off('error', aborted).off('close', aborted);
      raw.unpipe(guard);
    };
    raw.on('aborted', aborted).on('error', aborted).on('close', aborted);
    guard.on('close', done).on('end', done);
    // Readers listen for errors themselves; a body nobody reads must not throw one at the process.
    guard.on('error', () => {});
    this.open.add(guard);
    this.byRequest.set(raw, guard);
    raw.pipe(guard);
    return guard;
  }

  /**
   * Whether raw's body is still arriving. A reply sent before then closes the connection: the
   * rest of the body would otherwise hold it, unread, until the request timeout.
   */
  arriving(raw: IncomingMessage): boolean {
    const g = this.byRequest.get(raw);
    return g !== undefined && this.open.has(g) && !raw.complete;
  }

  /** Stops watching raw's body once its request is answered. */
  finish(raw: IncomingMessage): void {
    const g = this.byRequest.get(raw);
    if (g !== undefined && this.open.has(g)) g.destroy();
  }

  /** Ends every body still arriving with err (at shutdown: their requests are answered and closed). */
  abortAll(err: () => AppError): void {
    for (const g of this.open) g.destroy(err());
  }
}
