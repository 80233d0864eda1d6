// What request logs may show of a URL: query parameters that look like credentials are redacted.
// Keys are accepted only in the Authorization header (src/plugins/auth.ts), but a client that puts
// one in the query string must not get it written into every log line of the request. Nor do the
// logs keep who a request named: an identity's label or a gallery item's id would otherwise outlive
// its erasure there.
import type { FastifyRequest } from 'fastify';

/** Query parameter names whose values are never logged. */
export const SECRET_PARAM = /key|token|secret|passw|auth|sig|session|credential/i;
/** Query parameters that name a person (`?label=` erases an identity). */
const PERSONAL_PARAM = /^label$/i;
/** What request logs redact of a query string: credentials and people. */
const LOGGED_REDACTED = new RegExp(`${SECRET_PARAM.source}|${PERSONAL_PARAM.source}`, 'i');
/** A gallery item's id in a path: /galleries/:id/items/:itemId. */
const ITEM_PATH = /^(\/galleries\/[^/?]+\/items\/)[^?]+/;

/** url with the value of every secret-looking query parameter replaced by [redacted]. */
export function redactUrl(url: string, names: RegExp = SECRET_PARAM): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((p) => {
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        /* a malformed escape: judge the name as written */
      }
      return names.test(decoded) && eq >= 0 ? `${name}=[redacted]` : p;
    });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** Whether the query string carries a secret-looking parameter. */
export function hasSecretParam(url: string): boolean {
  return redactUrl(url) !== url;
}

/** url as request logs show it: secrets, labels and gallery item ids redacted. */
export function logUrl(url: string): string {
  return redactUrl(url, LOGGED_REDACTED).replace(ITEM_PATH, '$1[redacted]');
}

/** Fastify's request serializer, with the URL redacted. */
export function reqSerializer(req: FastifyRequest) {
  return {
    method: req.method,
    url: logUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket ? req.socket.remotePort : undefined,
  };
}
