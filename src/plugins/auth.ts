// Bearer API keys. When keys are configured every route but the open ones needs
// `Authorization: Bearer <key>`; keys are compared in constant time. A key in the query string is
// not accepted (it would land in access logs); the refusal says where the key belongs.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../errors.js';
import { hasSecretParam } from '../http/log-redaction.js';

/** Probes and scrapers must reach these without a key. */
export const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The API's description and its viewer need no key either: they hold no data, and Swagger UI's
 * browser requests for its own assets carry no Authorization header, so /docs could not load.
 */
export const isDocsPath = (path: string): boolean =>
  path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');

/** The web console's files (HTML, script, styles) hold no data either; its API calls send the key. */
export const isConsolePath = (path: string): boolean => path === '/console' || path.startsWith('/console/');

// Hashing first gives equal-length buffers, so timingSafeEqual never leaks a key's length.
const digest = (s: string) => createHash('sha256').update(s).digest();

export function makeAuthHook(keys: string[]) {
  const digests = keys.map(digest);
  return async function auth(req: FastifyRequest, reply: FastifyReply) {
    const path = req.url.split('?')[0];
    if (OPEN_PATHS.has(path) || isDocsPath(path) || isConsolePath(path)) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (m) {
      const given = digest(m[1]);
      let ok = false;
      // Check every key, not just until a match, so timing does not tell which key matched.
      for (const d of digests) ok = timingSafeEqual(d, given) || ok;
      if (ok) return;
    }
    // Keys are never read from the query string: URLs end up in proxies' and browsers' logs.
    const message = m
      ? 'the API key is not valid'
      : hasSecretParam(req.url)
        ? 'API keys are accepted only in the Authorization header (Bearer <API key>), not in the query string'
        : 'this route needs Authorization: Bearer <API key>';
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer')
      .send(errorBody(401, 'UNAUTHORIZED', message));
  };
}
