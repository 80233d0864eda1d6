// U+0000 (NUL) in request text is refused wherever it can arrive, before any store sees it.
// PostgreSQL's text columns cannot hold it (SQLSTATE 22021, "invalid byte sequence for encoding
// UTF8: 0x00") and SQLite can, so without this the two backends answered differently: a name or an
// id with a NUL was stored on one and a 500 on the other. No id, name, label or key needs it.
//
// - JSON bodies and NDJSON lines: a "\u0000" escape is found by the pre-parse scan (json-text.ts);
//   a raw NUL byte is not JSON (JSON.parse refuses control characters in strings).
// - Binary gallery records: their ids and string labels are UTF-8 bytes, checked here once decoded.
// - Path parameters and query strings: one onRequest hook for every route (refuseNulInUrl).
// A store error on text it cannot hold is still a 400 (postgres-errors.ts), for any path missed.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, badRequest } from '../errors.js';

/** Ends each refusal: what was found is named before it ("items[0].id holds \\u0000"). */
export const NUL_RULE = '(U+0000, NUL), which no text sent to this service may hold: PostgreSQL cannot store it';

/** 400 VALIDATION_ERROR when decoded text (a binary record's id or label) holds U+0000. */
export function checkNoNul(text: string, where: string): void {
  if (text.includes('\0')) throw badRequest('VALIDATION_ERROR', `${where} holds a NUL byte ${NUL_RULE}`);
}

/** Names a query or path value for a message, cut short (it may be long or hold anything). */
const shown = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** The first path parameter or query key or value holding U+0000, named, or undefined. */
function nulIn(req: FastifyRequest): string | undefined {
  const params = (req.params ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(params))
    if (typeof v === 'string' && v.includes('\0'))
      // a wildcard's value (static files, no route) is the rest of the path: name the path as sent
      return k === '*' ? `the path ${shown(req.url.split('?')[0])}` : `the path parameter ${k} (${shown(v)})`;
  const query = (req.query ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(query)) {
    if (k.includes('\0')) return `the query parameter ${shown(k)}`;
    for (const x of Array.isArray(v) ? v : [v])
      if (typeof x === 'string' && x.includes('\0')) return `the query parameter ${k} (${shown(x)})`;
  }
  return undefined;
}

/**
 * One rule for every route: a path parameter or a query key or value that decodes to text holding
 * U+0000 is 400 INVALID_REQUEST, as the static files already answered a NUL in their path. Not a
 * 404 for ids: a 400 says the request can never succeed, and names the parameter. A URL without
 * "%00" (the only way a NUL reaches a decoded value; Node refuses a raw one) is not looked into.
 */
export function refuseNulInUrl(app: FastifyInstance): void {
  app.addHook('onRequest', (req, _reply, done) => {
    if (!req.url.includes('%00') && !req.url.includes('\0')) return done();
    const where = nulIn(req);
    if (where === undefined) return done();
    done(new AppError(400, 'INVALID_REQUEST', `${where} holds %00 ${NUL_RULE}`));
  });
}
