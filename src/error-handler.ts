// The one place that turns any thrown error into the contract's JSON error.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from './domain/errors.js';
import { AppError, errorBody } from './errors.js';
import { ClientAbortError, isClientAbort } from './http/body-guard.js';
import { PRIVATE_HEADERS } from './http/private-replies.js';

/** nginx's status for a request whose client closed the connection first (task-gate.ts's clientGone). */
const CLIENT_CLOSED = 499;

/** The status code of each kind of domain error. */
const DOMAIN_STATUS: Record<DomainErrorKind, number> = {
  not_found: 404,
  conflict: 409,
  invalid: 400,
  limit: 422,
  busy: 429,
  unavailable: 503,
  storage_full: 507,
};

/** Fastify's own errors mapped to our stable codes. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BODY_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_BODY'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_EMPTY_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
};

export function errorHandler(err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (isClientAbort(err, req.raw)) {
    // Nobody is left to read an answer: this is the client's doing, not a fault of the service.
    const e = new ClientAbortError();
    req.log.info({ code: e.code }, e.message);
    return reply.code(e.statusCode).send(errorBody(e.statusCode, e.code, e.message));
  }
  if (err instanceof AppError) {
    // A reply to a client that is gone never finishes, so Fastify logs no completed request for it:
    // this line is the only trace of the work stopped.
    if (err.statusCode === CLIENT_CLOSED) req.log.info({ code: err.code }, err.message);
    for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
    return reply.code(err.statusCode).send(errorBody(err.statusCode, err.code, err.message));
  }
  if (err instanceof DomainError) {
    const status = DOMAIN_STATUS[err.kind];
    return reply.code(status).send(errorBody(status, err.code, err.message));
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return reply.code(400).send(errorBody(400, 'VALIDATION_ERROR', fe.message));
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    // Fastify's own message names no limit; say which one, and what to do instead.
    const message = `the body is larger than the limit of ${req.routeOptions.bodyLimit} bytes (BODY_LIMIT_BYTES); split it into several requests`;
    return reply.code(413).send(errorBody(413, 'BODY_TOO_LARGE', message));
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return reply.code(mapped[0]).send(errorBody(mapped[0], mapped[1], fe.message));
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
    return reply.code(400).send(errorBody(400, 'INVALID_JSON', `the body is not valid JSON: ${fe.message}`));
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's content-type parsers' refusals are about the body; the rest (a static file's
    // 403 for a path outside its root, 400 for a NUL in it) about the request, which is named.
    if (fe.code?.startsWith('FST_ERR_CTP'))
      return reply.code(fe.statusCode).send(errorBody(fe.statusCode, 'INVALID_BODY', fe.message));
    const path = req.url.split('?')[0];
    const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
    const message = `${fe.message} (${req.method} ${shown})`;
    return reply.code(fe.statusCode).send(errorBody(fe.statusCode, 'INVALID_REQUEST', message));
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send(errorBody(500, 'INTERNAL_ERROR', 'an internal error occurred; it has been logged'));
}

/**
 * For Fastify's `frameworkErrors` option. The router's own errors (a malformed %-escape in the
 * path, a path parameter longer than `maxParamLength`) never reach setErrorHandler, and Fastify
 * answers them with its codes (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH, status 414); this keeps
 * them in the contract's shape and codes. Fastify builds their reply on a context without hooks, so
 * the headers every reply carries are set here.
 */
export function frameworkErrorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  reply.headers(PRIVATE_HEADERS);
  const url = req.url.split('?')[0];
  const shown = url.length > 200 ? `${url.slice(0, 200)}…` : url;
  if (err.code === 'FST_ERR_BAD_URL') {
    return reply.code(400).send(errorBody(400, 'VALIDATION_ERROR', `the path ${shown} holds a malformed %-escape`));
  }
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return reply
      .code(400)
      .send(errorBody(400, 'VALIDATION_ERROR', `a path parameter of ${shown} is too long to be an id`));
  }
  return errorHandler(err, req, reply);
}
