// Idempotency-Key on upload routes (docs/decisions/0034-identity-level-data.md): the route's
// preParsing hook checks the key and starts hashing the body before a byte of it is read; the
// handler runs the upload through the idempotency service, which answers a retry with the first
// reply (and `Idempotent-Replayed: true`). Dataset and gallery uploads use the same three pieces.
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { tooLarge } from '../errors.js';
import { bodyHashOf, hashBody } from '../http/body-hash.js';
import { chunks } from '../http/streams.js';
import { idempotencyScope, parseIdempotencyKey, type IdempotencyTicket } from '../services/idempotency.js';

/** The Idempotency-Key header, as upload routes document it. */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'Up to 255 printable ASCII characters. A retry with the same key and body gets the first reply ' +
        '(`Idempotent-Replayed: true`) and writes nothing; the same key with another body is 422 ' +
        'IDEMPOTENCY_KEY_REUSED; while the first is still running, 409. Kept IDEMPOTENCY_TTL_HOURS (24 h).',
    }),
  ),
});

/** preParsing hook of an upload route: a bad key is refused (400) before the body is read. */
export async function idempotencyKeyHook(req: FastifyRequest, _reply: FastifyReply, payload: Readable) {
  if (parseIdempotencyKey(req.headers['idempotency-key']) !== undefined) hashBody(req.raw);
  return payload;
}

/** The bearer key of the request when keys are configured: keys are scoped per caller. */
function bearerOf(req: FastifyRequest): string | undefined {
  if (req.server.config.apiKeys.length === 0) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
}

/** Reads the rest of a streamed body (to finish its hash), within the upload limit. */
async function drain(req: FastifyRequest): Promise<void> {
  const body = req.body as Readable | undefined;
  if (!body || typeof (body as Readable).read !== 'function') return; // JSON: parsed (and hashed) whole
  const limit = req.server.config.limits.uploadLimit;
  let total = 0;
  for await (const chunk of chunks(body)) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge('BODY_TOO_LARGE', `upload is larger than the limit of ${limit} bytes`);
  }
}

/**
 * Answers an upload with status 201 and what `append` returns, once per Idempotency-Key: a retry
 * with the key and the same body gets the first reply again, and `append` does not run.
 */
export async function sendIdempotent(
  req: FastifyRequest,
  reply: FastifyReply,
  target: string,
  append: (ticket?: IdempotencyTicket) => Promise<unknown>,
) {
  const key = parseIdempotencyKey(req.headers['idempotency-key']);
  const hash = bodyHashOf(req.raw);
  if (key === undefined || hash === undefined) return reply.code(201).send(await append());
  const ticket: IdempotencyTicket = {
    scope: idempotencyScope(`${req.method} ${req.routeOptions.url}`, target, bearerOf(req)),
    key,
    ttlMs: req.server.services.idempotency.ttlMs,
    bodyHash: () => hash.digest(),
  };
  const out = await req.server.services.idempotency.run(
    ticket,
    () => drain(req),
    async (t) => ({ status: 201, body: await append(t) }),
  );
  if (out.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(out.status).send(out.body);
}
