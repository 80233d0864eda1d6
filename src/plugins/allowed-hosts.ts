// ALLOWED_HOSTS: the names this service answers to. A page on another site cannot send a write here
// (cross-origin.ts), but through DNS rebinding it can make its own name resolve to this service's
// address: its requests then carry its own name in both Origin and Host, look same-origin, and may
// also read the replies. Only the names the service is meant to be reached by tell those apart, so
// with the list set every request whose Host is not on it is refused. The health probes are not
// refused: they carry no data, and a container's probe asks by localhost or an address.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { errorBody } from '../errors.js';
import { parseHost } from '../http/host.js';

const PROBES = new Set(['/healthz', '/readyz']);

/**
 * Whether `host` is allowed by `entries`: an entry names a hostname (any port), a host:port, or
 * with a leading dot a domain and its subdomains (".example.com").
 */
export function hostAllowed(host: string | undefined, entries: readonly string[]): boolean {
  const h = host === undefined ? undefined : parseHost(host);
  if (!h) return false;
  return entries.some((raw) => {
    const e = raw.toLowerCase();
    if (e.startsWith('.')) return h.hostname === e.slice(1) || h.hostname.endsWith(e);
    const p = parseHost(e);
    return p !== undefined && (p.host === h.host || (p.host === p.hostname && p.hostname === h.hostname));
  });
}

/** The onRequest hook for a non-empty ALLOWED_HOSTS. */
export function makeAllowedHostsHook(entries: readonly string[]) {
  return function allowedHosts(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (PROBES.has(req.url.split('?')[0]) || hostAllowed(req.headers.host, entries)) return done();
    const host = JSON.stringify((req.headers.host ?? '').slice(0, 200));
    reply
      .code(400)
      .send(
        errorBody(400, 'INVALID_REQUEST', `the Host header ${host} is not one of this service's names (ALLOWED_HOSTS)`),
      );
  };
}
