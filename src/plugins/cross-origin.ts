// Writes from other web sites are refused (docs/decisions/0069-cross-origin-writes.md). Without API
// keys any page a user of the service opens could POST to it: a form, or fetch() in no-cors mode,
// needs no CORS preflight, so `POST /jobs/:id/cancel` from evil.example cancelled the job. CORS
// only governs what such a page may read, not whether the request runs.
//
// One rule for the methods that change state (POST, PUT, PATCH, DELETE), from the headers browsers
// send and pages cannot forge (Origin, Sec-Fetch-Site): a request is refused with 403 CROSS_ORIGIN
// when its Origin is neither an origin CORS_ORIGINS allows nor the service's own, or when the
// browser calls it `Sec-Fetch-Site: cross-site` and its Origin is not one CORS_ORIGINS allows.
// A request with neither header (curl, servers, SDKs) is not a browser's and passes as before.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { errorBody } from '../errors.js';
import { parseHost } from '../http/host.js';

export const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Whether `origin` names the host the request was sent to (its Host header). The scheme is not
 * compared: behind a proxy that ends TLS the service is reached over http by an https page, and
 * the Host header (the proxy passes it on) is what the browser addressed. Ports are compared,
 * each scheme's default port dropped on both sides ("https://a" is "a:443").
 */
export function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  try {
    const o = new URL(origin);
    if (o.protocol !== 'http:' && o.protocol !== 'https:') return false;
    return o.host === parseHost(host, o.protocol)?.host;
  } catch {
    return false; // "null" (a sandboxed frame, a file: page) and anything else that is no URL
  }
}

/** Why a request may not run, or undefined when it may. `allowed` is CORS_ORIGINS. */
export function crossOriginRefusal(
  headers: FastifyRequest['headers'],
  allowed: ReadonlySet<string>,
): string | undefined {
  const origin = headers.origin;
  const site = headers['sec-fetch-site'];
  if (origin !== undefined && (allowed.has('*') || allowed.has(origin))) return undefined;
  const from = origin === undefined ? 'another site' : `the origin ${JSON.stringify(origin.slice(0, 200))}`;
  const fix = 'serve the page from this service, or add its origin to CORS_ORIGINS';
  if (site === 'cross-site') return `a cross-site request (from ${from}) may not change anything here: ${fix}`;
  if (origin === undefined) return undefined;
  // The browser's own word that the page is on this origin holds when a proxy rewrote Host
  // (nginx's `Host $host` drops the port); a page cannot set Sec-Fetch-Site.
  if (site === 'same-origin' || isOwnOrigin(origin, headers.host)) return undefined;
  return `a request from ${from} may not change anything on ${headers.host ?? 'this service'}: ${fix}`;
}

/** The onRequest hook; `corsOrigins` as configured (CORS_ORIGINS, `*` for any). */
export function makeCrossOriginHook(corsOrigins: readonly string[]) {
  const allowed = new Set(corsOrigins);
  // a callback hook, not an async one: it runs on every request
  return function crossOrigin(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (!STATE_CHANGING.has(req.method)) return done();
    const refusal = crossOriginRefusal(req.headers, allowed);
    if (refusal === undefined) return done();
    reply.code(403).send(errorBody(403, 'CROSS_ORIGIN', refusal));
  };
}
