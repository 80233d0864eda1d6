// Every call to the service: same origin, the API key (kept in sessionStorage for this browser
// session) in the Authorization header and never in a URL, errors in the service's JSON shape.
const KEY = 'triplet-embed.apiKey';

export const getKey = (): string => sessionStorage.getItem(KEY) ?? '';
export function setKey(key: string): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const key = getKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A reply that is not the service's: the page of a proxy in front of it (a 502 while the service
 * is away, a 200 sign-in page once the proxy's session has lapsed). Named by its status; its
 * markup, which a person cannot use, is not shown.
 */
export const notTheService = (status: number, statusText: string): ApiError =>
  new ApiError(
    status,
    'NOT_THE_SERVICE',
    `HTTP ${status}${statusText ? ` ${statusText}` : ''}: the reply is not the service's (a proxy's page?)`,
  );

/** The service's JSON reply, or notTheService. */
export function parseReply(text: string, status: number, statusText: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw notTheService(status, statusText);
  }
}

/**
 * Turns a non-2xx reply into an ApiError: the service's {code, message}, or notTheService. A 401
 * of the service's (not a proxy's) also tells the key form to ask again, unless the request went out
 * with another key than the one now kept: a poll sent before the key was entered, answered after,
 * would ask for the key just given (the page it belonged to is already being rebuilt).
 */
export function errorFrom(status: number, text: string, statusText: string, sent: Record<string, string>): ApiError {
  let body: { code?: unknown; message?: unknown } | null;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = null;
  }
  if (typeof body?.message !== 'string') return notTheService(status, statusText);
  const code = typeof body.code === 'string' ? body.code : 'HTTP_ERROR';
  const message = body.message;
  if (status === 401 && sent.authorization === authHeaders().authorization)
    window.dispatchEvent(new CustomEvent('console:unauthorized', { detail: message }));
  return new ApiError(status, code, message);
}

/** No reply at all: the service is stopped or restarting, or the network between is down. */
export class Unreachable extends Error {
  constructor(cause: unknown) {
    super(`cannot reach the service (${cause instanceof Error ? cause.message : String(cause)})`);
  }
}

/** How long a read (a GET) may go without a byte from the service before it is given up. */
export const READ_QUIET_MS = 30_000;

/**
 * One request's steps (fetch, reading the body, each read of a stream) with what can go wrong in
 * them said plainly: a network failure ("Failed to fetch" tells a person nothing) or, when quietMs
 * is given, that long without any progress, as Unreachable. The watchdog is for a service that
 * took the connection and then says nothing (its process frozen, a connection left dead by a
 * laptop's sleep, a proxy holding it): the page would wait for good, showing old figures as
 * current. Pass `signal` to fetch; the caller's own abort stays an abort.
 */
export class Call {
  private readonly control = new AbortController();
  readonly signal = this.control.signal;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private quiet = false;
  private readonly onAbort = () => this.control.abort();

  constructor(
    private readonly outer?: AbortSignal,
    private readonly quietMs?: number,
  ) {
    outer?.addEventListener('abort', this.onAbort);
    this.kick();
  }

  private kick(): void {
    clearTimeout(this.timer);
    if (this.quietMs === undefined) return;
    this.timer = setTimeout(() => {
      this.quiet = true;
      this.control.abort();
    }, this.quietMs);
  }

  async step<T>(step: Promise<T>): Promise<T> {
    try {
      const value = await step;
      this.kick();
      return value;
    } catch (e) {
      if (this.outer?.aborted) throw e;
      if (this.quiet) throw new Unreachable(`nothing from it in ${(this.quietMs ?? 0) / 1000} s`);
      if (e instanceof TypeError) throw new Unreachable(e);
      throw e;
    }
  }

  end(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/**
 * How every call of the console is fetched: never kept in the browser's HTTP cache. The service's
 * replies say no-store themselves; this holds too behind a proxy that drops the header, where Chrome
 * would write them to the profile's disk cache and a dataset's labels (people's names, in a face
 * gallery) would outlive the session and the identity's erasure.
 */
export const NO_STORE: RequestCache = 'no-store';

/** A request and its whole reply's text, as one Call (quietMs: see there). */
export async function fetchText(url: string, init: RequestInit, signal?: AbortSignal, quietMs?: number) {
  const call = new Call(signal, quietMs);
  try {
    const res = await call.step(fetch(url, { ...init, signal: call.signal, cache: NO_STORE }));
    return { res, text: await call.step(res.text()) };
  } finally {
    call.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One call. A GET that gets nothing from the service in READ_QUIET_MS is given up (the page's loop
 * tries again); a write may take long (an evaluation), and the service ends it itself (408 past
 * REQUEST_TIMEOUT_MS). A GET refused with 503 and Retry-After (the service shedding load, or a
 * replica shutting down) is sent again after the wait it asks for, a few times.
 */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers = authHeaders(body === undefined ? {} : { 'content-type': 'application/json' });
  for (let attempt = 1; ; attempt++) {
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    const { res, text } = await fetchText(path, init, signal, method === 'GET' ? READ_QUIET_MS : undefined);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status === 503 && method === 'GET' && attempt < 5 && retryAfter > 0) {
      await sleep(Math.min(retryAfter, 10) * 1000);
      continue;
    }
    if (!res.ok) throw errorFrom(res.status, text, res.statusText, headers);
    return (text ? parseReply(text, res.status, res.statusText) : undefined) as T;
  }
}

export const enc = encodeURIComponent;
