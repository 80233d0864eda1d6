// /embed's reply in the form the client asks for: n×k little-endian float32 with
// `Accept: application/octet-stream`, else JSON with float rows (written by float32-json.ts) or
// base64 rows, as the request's encoding was.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Embedded } from '../services/serving.js';
import type { Readable } from 'node:stream';
import { OCTET } from './media-type.js';
import type { Encoding } from './model-rows.js';
import { encodeBase64Row } from './rows.js';
import { rowsJson } from './rows-json.js';

function wantsBinary(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes(OCTET);
}

function sendBinary(reply: FastifyReply, e: Embedded) {
  return reply
    .header('content-type', OCTET)
    .header('x-model-id', e.model.record.id)
    .header('x-rows', String(e.rows))
    .header('x-dimension', String(e.model.k))
    .send(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
}

/**
 * The JSON reply for float rows: {"model","dimension","embeddings"} as EmbedReply describes, each
 * value as float32-exact short text (float32-json.ts), with no number[][] built and no
 * JSON.stringify pass over them; a stream when large (rows-json.ts).
 */
export function embedJson(e: Embedded): string | Readable {
  const k = e.model.k;
  return rowsJson(
    `{"model":${JSON.stringify(e.model.record.id)},"dimension":${k},"embeddings":`,
    e.data,
    e.rows,
    k,
    '}',
  );
}

export function base64Rows(e: Embedded): string[] {
  const out: string[] = new Array(e.rows);
  for (let i = 0; i < e.rows; i++) out[i] = encodeBase64Row(e.data, i * e.model.k, e.model.k);
  return out;
}

export function sendEmbedded(req: FastifyRequest, reply: FastifyReply, e: Embedded, encoding: Encoding) {
  if (wantsBinary(req)) return sendBinary(reply, e);
  reply.type('application/json; charset=utf-8');
  // Float rows: the reply text (or stream) is already the JSON (embedJson), sent as it is. base64 rows: the
  // schema's rows are a union (numbers or base64), which the compiled serializer can only resolve
  // row by row with a validator; V8's JSON.stringify writes the same JSON faster.
  if (encoding === 'float') return reply.send(embedJson(e));
  return reply
    .serializer(JSON.stringify)
    .send({ model: e.model.record.id, dimension: e.model.k, embeddings: base64Rows(e) });
}
