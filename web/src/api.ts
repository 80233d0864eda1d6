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

/** Turns a non-2xx reply into an ApiError; a 401 also tells the key form to ask again. */
export function errorFrom(status: number, text: string): ApiError {
  let code = 'HTTP_ERROR';
  let message = text || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    /* not JSON: keep the text */
  }
  if (status === 401) window.dispatchEvent(new CustomEvent('console:unauthorized', { detail: message }));
  return new ApiError(status, code, message);
}

/** No reply at all: the service is stopped or restarting, or the network between is down. */
export class Unreachable extends Error {
  constructor(cause: unknown) {
    super(`cannot reach the service (${cause instanceof Error ? cause.message : String(cause)})`);
  }
}

/**
 * A step of a call (fetch, reading the body), with a network failure turned into Unreachable:
 * fetch's own "Failed to fetch" does not tell a person what is wrong. An abort stays an abort.
 */
export async function reach<T>(step: Promise<T>, signal?: AbortSignal | null): Promise<T> {
  try {
    return await step;
  } catch (e) {
    if (signal?.aborted || !(e instanceof TypeError)) throw e;
    throw new Unreachable(e);
  }
}

/**
 * How every call of the console is fetched: never kept in the browser's HTTP cache. The replies
 * carry no Cache-Control, and Chrome writes them to the profile's disk cache, where a dataset's
 * labels (people's names, in a face gallery) outlive the session and the identity's erasure.
 */
export const NO_STORE: RequestCache = 'no-store';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One call. A GET refused with 503 and Retry-After (the service shedding load, or a replica
 * shutting down) is sent again after the wait it asks for, a few times.
 */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers = authHeaders(body === undefined ? {} : { 'content-type': 'application/json' });
  for (let attempt = 1; ; attempt++) {
    const res = await reach(
      fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: NO_STORE,
      }),
      signal,
    );
    const text = await reach(res.text(), signal);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status === 503 && method === 'GET' && attempt < 5 && retryAfter > 0) {
      await sleep(Math.min(retryAfter, 10) * 1000);
      continue;
    }
    if (!res.ok) throw errorFrom(res.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

export const enc = encodeURIComponent;
