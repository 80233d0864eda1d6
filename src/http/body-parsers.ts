// Every request-body parser of the app, registered once at the root. Routes say what they need
// in their options (`config: { body: [...] }`) and the parsers here act on it:
//
// - application/json: Fastify's parser with explained refusals (json-body.ts); on routes that also
//   take binary or NDJSON, bodies past JSON_BODY_LIMIT_BYTES get 413 (JSON is parsed on the loop). With
//   'float32-json', Float32JsonParser reads the body first (float32-json-parse.ts) and hands
//   anything outside its subset to that parser. Text that parser takes is checked first for
//   nesting and lone surrogates (json-text.ts).
// - application/octet-stream with 'staged-binary': held in parts as it arrives, under the shared
//   STAGED_BYTES_LIMIT (staged-body.ts), then copied into a block the serving service stages (in
//   the kernels' memory when they have it), released when the reply is done.
// - application/x-ndjson and other application/octet-stream bodies: the raw stream, which the
//   route decodes with its bounds (ndjson.ts, binary.ts). Only routes whose body schema lists the
//   type take it; elsewhere it is a 415, not a schema error about a missing JSON field.
import type { ServerResponse } from 'node:http';
import type { FastifyRequest, RouteOptions } from 'fastify';
import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import type { StagedRows } from '../services/serving.js';
import { clientGone } from '../services/task-gate.js';
import { bodyHashOf } from './body-hash.js';
import { FALLBACK, Float32JsonParser } from './float32-json-parse.js';
import { jsonBodyParser } from './json-body.js';
import { checkJsonText } from './json-text.js';
import { JSON_TYPE, mediaType, NDJSON, OCTET } from './media-type.js';
import { MemoryReleaser } from './memory.js';
import { readStaged, StagingBudget, withBudget } from './staged-body.js';
import { decodeUtf8 } from './utf8.js';

/** Body readers a route can ask for beyond the defaults. */
export type BodyReader = 'float32-json' | 'staged-binary';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body readers this route asks src/http/body-parsers.ts for. */
    body?: readonly BodyReader[];
  }
}

function wants(req: FastifyRequest, reader: BodyReader): boolean {
  return req.routeOptions.config?.body?.includes(reader) === true;
}

/** Staged binary bodies by request, so one left by a failed request is still released. */
const STAGED = Symbol('staged body');
type WithStaged = FastifyRequest & { [STAGED]?: StagedRows };

async function releaseStaged(req: FastifyRequest): Promise<void> {
  (req as WithStaged)[STAGED]?.release();
}

/** Whether the route has a body schema that does not list the media type (in a `content` map keyed by type). */
function unlisted(req: FastifyRequest, type: string): boolean {
  const body = req.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined;
  // no route (the 404 handler answers) or no body schema (the route reads no body): let it through
  if (body === undefined || req.routeOptions.url === undefined) return false;
  return body.content?.[type] === undefined;
}

/** Whether the route takes a binary or NDJSON body as well as JSON (a format that is not parsed whole on the loop). */
function takesStream(req: FastifyRequest): boolean {
  const content = (req.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined)?.content;
  return content?.[OCTET] !== undefined || content?.[NDJSON] !== undefined;
}

/**
 * 413 for a JSON body past JSON_BODY_LIMIT_BYTES: a JSON body is parsed whole on the event loop
 * (a 16 MiB one held it for most of a second), while binary and NDJSON bodies are read as they
 * arrive. Only routes that take one of those refuse, so the message can point to it.
 */
function jsonTooLarge(req: FastifyRequest, bytes: number, limit: number): AppError {
  const types = Object.keys((req.routeOptions.schema?.body as { content: Record<string, unknown> }).content)
    .filter((t) => t !== JSON_TYPE)
    .join(' or ');
  return new AppError(
    413,
    'BODY_TOO_LARGE',
    `the JSON body is ${bytes} bytes, larger than the limit of ${limit} bytes for JSON (JSON_BODY_LIMIT_BYTES); ` +
      `send it as ${types}, which is read as it arrives`,
  );
}

/** The route has no body schema, or one that may be omitted (nullable). */
function takesNoBody(req: FastifyRequest): boolean {
  const body = req.routeOptions.schema?.body as { nullable?: boolean } | undefined;
  return body === undefined || body.nullable === true;
}

/**
 * The types a browser sends cross-origin without asking first (a form's, and fetch's in no-cors
 * mode: the CORS-safelisted ones). Only POST can carry them so: PUT, PATCH and DELETE from another
 * origin always need a preflight, which CORS_ORIGINS governs.
 */
const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const formType = (req: FastifyRequest): boolean => FORM_TYPES.has(mediaType(req));

/** No bytes follow the headers: Content-Length 0, or neither it nor Transfer-Encoding (RFC 9112 §6.3). */
function hasNoBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] === undefined && (length === undefined || length.trim() === '0');
}

async function bodyParsers(app: App): Promise<void> {
  const { serving } = app.services;
  const { bodyLimit } = app.config.limits;
  const jsonLimit = app.config.connections.jsonBodyLimit;
  const float32 = new Float32JsonParser();
  const standard = jsonBodyParser(app);
  // Once a burst of bodies has drained, their memory is handed back (memory.ts).
  // Requests in flight, counted by the server: 'close' comes once per response, finished or aborted.
  let inFlight = 0;
  app.server.on('request', (_req, res: ServerResponse) => {
    inFlight++;
    res.once('close', () => inFlight--);
  });
  const releaser = new MemoryReleaser(() => inFlight === 0);
  app.addHook('onClose', async () => releaser.close());
  const staging = new StagingBudget(app.config.connections.stagedBytesLimit, releaser.releaseSoon);
  app.state.http.stagedBytes = () => staging.bytes;

  // A route that takes no body runs on an empty one whatever its Content-Type: many clients send
  // `application/json` on every request, and Fastify would refuse an empty one as invalid JSON.
  // Routes that take a body keep their own refusals. But a POST with a form's type (formType) is
  // refused with or without a body: that is what another site's form sends, and
  // `POST /jobs/:id/cancel` must not run for one (docs/decisions/0069-cross-origin-writes.md).
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.method === 'POST' && req.routeOptions.url !== undefined && takesNoBody(req) && formType(req)) {
      return done(
        new AppError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `${req.method} ${req.routeOptions.url} takes no body: send it without a Content-Type (or with ${JSON_TYPE}), ` +
            `not ${mediaType(req)}, which web forms send and is refused so that no other site's page can call it`,
        ),
      );
    }
    if (req.headers['content-type'] !== undefined && takesNoBody(req) && hasNoBody(req)) {
      delete req.headers['content-type'];
    }
    // No body is decompressed here: a compressed one would be read as if it were plain and
    // refused with a misleading reason (or, for a binary body, taken as other numbers).
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity' && !takesNoBody(req) && !hasNoBody(req)) {
      return done(
        new AppError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `Content-Encoding ${encoding} is not accepted: send the body uncompressed (Content-Encoding identity or none)`,
        ),
      );
    }
    done();
  });

  // A JSON body declared over the JSON limit is refused before a byte of it is read (reading 16 MiB
  // only to refuse it costs the loop too); a chunked one is refused by the parser below.
  app.addHook('preParsing', async (req, _reply, payload) => {
    const declared = Number(req.headers['content-length']);
    if (declared > jsonLimit && mediaType(req) === JSON_TYPE && takesStream(req)) {
      throw jsonTooLarge(req, declared, jsonLimit);
    }
    return payload;
  });

  app.removeContentTypeParser(JSON_TYPE);
  app.addContentTypeParser(JSON_TYPE, { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    bodyHashOf(req.raw)?.update(bytes);
    if (bytes.byteLength > jsonLimit && takesStream(req)) return done(jsonTooLarge(req, bytes.byteLength, jsonLimit));
    if (wants(req, 'float32-json')) {
      const v = float32.parse(bytes);
      if (v !== FALLBACK) return done(null, v);
    }
    let text: string;
    try {
      text = decodeUtf8(bytes, 'the body');
      checkJsonText(text, 'the body');
    } catch (e) {
      return done(e as Error);
    }
    standard(req, text, done);
  });

  app.addContentTypeParser([NDJSON, OCTET], (req, payload, done) => {
    const type = mediaType(req);
    if (unlisted(req, type)) {
      return done(
        new AppError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `${req.method} ${req.routeOptions.url} takes application/json, not ${type}`,
        ),
        undefined,
      );
    }
    // Streamed uploads: their readers count what they hold against the same budget.
    if (type !== OCTET || !wants(req, 'staged-binary')) return done(null, withBudget(payload, staging));
    readStaged(payload, {
      contentLength: req.headers['content-length'],
      limit: bodyLimit,
      budget: staging,
      stage: (n) => serving.stage(n),
    }).then(
      (rows) => {
        // The copy took turns of the loop (staged-body.ts): a client gone meanwhile gets no reply, and
        // without one the onResponse hook that releases the block never runs.
        // (The request stream itself is destroyed once read whole: its socket tells.)
        if (!req.raw.socket || req.raw.socket.destroyed) {
          rows.release();
          return done(clientGone('staging its body'), undefined);
        }
        (req as WithStaged)[STAGED] = rows;
        done(null, rows);
      },
      (e: Error) => done(e, undefined),
    );
  });

  // Whatever happens after parsing (validation errors included), a staged block goes back.
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.config?.body?.includes('staged-binary')) return;
    const own =
      route.onResponse === undefined ? [] : Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse];
    route.onResponse = [...own, releaseStaged] as RouteOptions['onResponse'];
  });
}

// Registered at the root, not in a context of its own: these parsers are the whole app's.
(bodyParsers as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export default bodyParsers;
