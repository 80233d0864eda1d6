// JSON request bodies: Fastify's own parser (secure-json-parse, prototype poisoning refused), with
// the reason put back into the message when it refuses a body. Fastify answers every refusal with
// "Body is not valid JSON but content-type is set to 'application/json'", also for a valid body it
// refuses for a "__proto__" key, and without saying where the text goes wrong.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

type Done = (err: Error | null, body?: unknown) => void;
export type JsonBodyParser = (req: FastifyRequest, body: string, done: Done) => void;

/** Why a body Fastify refused was refused: JSON.parse's own message, or prototype poisoning. */
function explain(body: string): AppError {
  try {
    JSON.parse(body);
  } catch (e) {
    return new AppError(400, 'INVALID_JSON', `the body is not valid JSON: ${(e as Error).message}`);
  }
  return new AppError(
    400,
    'INVALID_JSON',
    'the body has a "__proto__" key or a "constructor" key holding "prototype", which are refused (prototype poisoning)',
  );
}

/** Fastify's default JSON parser for this app's settings, with refusals explained. */
export function jsonBodyParser(app: FastifyInstance): JsonBodyParser {
  const standard = app.getDefaultJsonParser('error', 'error');
  return (req, body, done) =>
    standard(req, body, (err: Error | null, value?: unknown) => {
      if (err && (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') done(explain(body));
      else done(err, value);
    });
}
