// The one place that turns any thrown error into the contract's JSON error.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorBody } from './errors.js';

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
  if (err instanceof AppError) {
    return reply.code(err.statusCode).send(errorBody(err.statusCode, err.code, err.message));
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return reply.code(400).send(errorBody(400, 'VALIDATION_ERROR', fe.message));
  }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return reply.code(mapped[0]).send(errorBody(mapped[0], mapped[1], fe.message));
  if (err instanceof SyntaxError || (fe.statusCode === 400 && /JSON/i.test(fe.message))) {
    return reply.code(400).send(errorBody(400, 'INVALID_JSON', `the body is not valid JSON: ${fe.message}`));
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return reply.code(fe.statusCode).send(errorBody(fe.statusCode, 'INVALID_BODY', fe.message));
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send(errorBody(500, 'INTERNAL_ERROR', 'an internal error occurred; it has been logged'));
}
