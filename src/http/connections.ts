// Connections: the HTTP server's timeouts, a cap on open connections, answers in the contract's
// shape for what Node refuses before Fastify sees a request (malformed HTTP, header overflow,
// header and request timeouts), and accept errors (EMFILE, ENFILE…) that are logged, never fatal.
import type { ServerOptions } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { ConnectionSettings } from '../config.js';
import { errorBody } from '../errors.js';
import { PRIVATE_HEADERS } from './private-replies.js';
import type { ErrorCode } from '../errors.js';

/** How often Node checks the header and request timeouts: a quarter of the shorter, 250 ms to 30 s. */
export function checkingIntervalMs(c: ConnectionSettings): number {
  return Math.min(30_000, Math.max(250, Math.floor(Math.min(c.headersTimeoutMs, c.requestTimeoutMs) / 4)));
}

/** Connections past MAX_CONNECTIONS that are still answered (503) before new ones are dropped unanswered. */
export function overflowConnections(max: number): number {
  return Math.max(16, Math.floor(max / 8));
}

/** Fastify's server options for these settings. */
export function serverOptions(c: ConnectionSettings): Pick<
  FastifyServerOptions,
  'keepAliveTimeout' | 'requestTimeout' | 'connectionTimeout' | 'clientErrorHandler'
> & {
  http: ServerOptions;
} {
  return {
    keepAliveTimeout: c.keepAliveTimeoutMs,
    requestTimeout: c.requestTimeoutMs,
    // no idle timeout on the whole socket: a reply being computed, or an event stream, is not idle
    connectionTimeout: 0,
    http: {
      headersTimeout: c.headersTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      keepAliveTimeout: c.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(c),
    },
    clientErrorHandler: makeClientErrorHandler(c),
  };
}

/** The headers every reply carries, as lines of a raw response (no hook sees one). */
const PRIVATE_LINES = Object.entries(PRIVATE_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/** A whole HTTP response with the contract's JSON error, written on a socket Node did not hand to Fastify. */
function rawReply(status: number, code: ErrorCode, message: string): string {
  const body = JSON.stringify(errorBody(status, code, message));
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${PRIVATE_LINES}Connection: close\r\n\r\n${body}`
  );
}

type ClientError = Error & { code?: string };

/** What a client error is answered with: [status, code, message], or undefined for nothing to answer. */
function describe(err: ClientError, c: ConnectionSettings): [number, ErrorCode, string] | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [
        408,
        'REQUEST_TIMEOUT',
        `the request did not arrive in time: headers within ${c.headersTimeoutMs} ms (HEADERS_TIMEOUT_MS), ` +
          `the whole request within ${c.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`,
      ];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'HEADERS_TOO_LARGE', "the request's headers are larger than the server accepts"];
    default:
      return [400, 'INVALID_REQUEST', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`];
  }
}

/** Fastify's clientErrorHandler: Node's own refusals in the contract's shape, with a code. */
function makeClientErrorHandler(c: ConnectionSettings) {
  return function clientError(this: { log: FastifyBaseLogger }, err: ClientError, socket: Socket) {
    const answer = describe(err, c);
    this.log.debug({ err: { code: err.code, message: err.message } }, 'client error');
    if (socket.destroyed) return;
    const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (answer && socket.writable && !pending?.headersSent) socket.write(rawReply(...answer));
    socket.destroy();
  };
}

const OVER_CAP = Symbol('over MAX_CONNECTIONS');
type Marked = Socket & { [OVER_CAP]?: boolean };

/** Logs a burst of identical errors once a second, with how many there were. */
function throttledLog(log: FastifyBaseLogger) {
  let last = 0;
  let skipped = 0;
  return (err: ClientError, msg: string) => {
    const now = Date.now();
    if (now - last < 1000) {
      skipped++;
      return;
    }
    log.warn({ err: { code: err.code, syscall: (err as { syscall?: string }).syscall }, skipped }, msg);
    last = now;
    skipped = 0;
  };
}

export interface ConnectionGuard {
  /** open connections now */
  open: () => number;
  /** for an onRequest hook: answers 503 CONNECTION_LIMIT on a connection past the cap (true if it did) */
  refuseOverCap: (req: FastifyRequest, reply: FastifyReply) => boolean;
}

/**
 * Counts connections; those past MAX_CONNECTIONS get one 503 and are closed, and past the
 * overflow Node drops them unanswered (server.maxConnections). An accept error (out of file
 * descriptors) is logged: libuv keeps a spare descriptor to shed the backlog, and the listener
 * goes on accepting once descriptors free up, so it is never the end of the process.
 */
export function guardConnections(
  server: import('node:http').Server,
  c: ConnectionSettings,
  log: FastifyBaseLogger,
): ConnectionGuard {
  let open = 0;
  server.maxConnections = c.maxConnections + overflowConnections(c.maxConnections);
  server.prependListener('connection', (socket: Marked) => {
    open++;
    if (open > c.maxConnections) socket[OVER_CAP] = true;
    socket.once('close', () => open--);
  });
  const warn = throttledLog(log);
  server.on('error', (err: ClientError) => {
    if ((err as { syscall?: string }).syscall === 'accept') warn(err, 'cannot accept a connection; still listening');
    else log.error({ err }, 'HTTP server error');
  });
  server.on('drop', () => warn({ code: 'MAX_CONNECTIONS' } as ClientError, 'connection dropped over MAX_CONNECTIONS'));
  return {
    open: () => open,
    refuseOverCap(req, reply) {
      if ((req.raw.socket as Marked)[OVER_CAP] !== true) return false;
      reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .send(
          errorBody(
            503,
            'CONNECTION_LIMIT',
            `the server has ${c.maxConnections} connections open, its limit (MAX_CONNECTIONS); retry after 1 s`,
          ),
        );
      return true;
    },
  };
}
