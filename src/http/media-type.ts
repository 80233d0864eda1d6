// The media type of a request body: the Content-Type header without parameters, lower-cased
// ("application/json; charset=utf-8" → "application/json"); '' when there is none.
import type { FastifyRequest } from 'fastify';

export const JSON_TYPE = 'application/json';
export const NDJSON = 'application/x-ndjson';
export const OCTET = 'application/octet-stream';

export function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}
