import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StagedRows } from '../math/kernels/types.js';
import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import { errors } from '../schemas/common.js';
import { DistancesBody, DistancesReply, EmbedBody, EmbedQuery, EmbedReply } from '../schemas/serving.js';
import { ServingService, type Embedded } from '../services/serving.js';
import { readStaged } from '../http/streams.js';
import { FALLBACK, Float32JsonParser } from '../http/float32-json-parse.js';
import { jsonBodyParser } from '../http/json-body.js';
import { mediaType } from '../http/media-type.js';

const OCTET = 'application/octet-stream';

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

/** Binary /embed bodies, staged by the content-type parser; released when the reply is done. */
const STAGED = Symbol('staged body');
type WithStaged = FastifyRequest & { [STAGED]?: StagedRows };

/**
 * /embed in its own encapsulation context: its application/octet-stream parser (replacing the
 * app-wide one that hands routes the raw stream) copies the body chunk by chunk straight into
 * the kernels' memory, where it is checked and embedded in place.
 */
async function embedRoute(app: App): Promise<void> {
  const { serving } = app.services;
  const limits = app.config.limits;
  const tags = ['serving'];

  if (app.hasContentTypeParser(OCTET)) app.removeContentTypeParser(OCTET);
  app.addContentTypeParser(OCTET, (req, payload, done) => {
    readStaged(payload, req.headers['content-length'], limits.bodyLimit, (n) => serving.stage(n)).then(
      (rows) => {
        (req as WithStaged)[STAGED] = rows;
        done(null, rows);
      },
      (e: Error) => done(e, undefined),
    );
  });
  // whatever happens after parsing (validation errors included), the block goes back
  app.addHook('onResponse', async (req) => {
    (req as WithStaged)[STAGED]?.release();
  });

  app.post('/embed', {
    schema: {
      tags,
      summary: 'Embed vectors',
      description:
        'Embedding i is W·inputs[i], L2-normalised when the model says so. `model` defaults to the newest model. ' +
        'JSON rows, base64 float32 rows (`"encoding": "base64"`), or a binary body (`application/octet-stream`, ' +
        'n×d little-endian float32, `?model=&rows=`). `Accept: application/octet-stream` gives an n×k float32 reply.',
      body: {
        content: {
          'application/json': { schema: EmbedBody },
          'application/octet-stream': { schema: { description: 'n×d little-endian float32, row-major; pass ?model=&rows=' } },
        },
      },
      querystring: EmbedQuery,
      response: { 200: EmbedReply, ...errors(400, 404, 409, 413, 415) },
    },
  }, async (req, reply) => {
    const type = mediaType(req);
    let e: Embedded;
    let encoding: 'float' | 'base64' = 'float';
    if (type === OCTET) {
      const body = req.body as unknown as StagedRows;
      try {
        e = await serving.embedStaged(req.query.model, body, req.query.rows);
      } finally {
        body.release();
      }
    } else if (type === 'application/json') {
      if (req.query.rows !== undefined) throw new AppError(400, 'VALIDATION_ERROR', 'querystring/rows applies to binary requests only');
      const body = req.body as EmbedBody;
      encoding = body.encoding ?? 'float';
      e = await serving.embedJson(body.model ?? req.query.model, body.inputs, encoding);
    } else {
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
    }
    if (wantsBinary(req)) return sendBinary(reply, e);
    reply.type('application/json; charset=utf-8');
    // Float rows: the reply text is written in one pass (ServingService.jsonBody). base64 rows:
    // the schema's rows are a union (numbers or base64), which the compiled serializer can only
    // resolve row by row with a validator; V8's JSON.stringify writes the same JSON faster.
    if (encoding === 'float') return reply.send(ServingService.jsonBody(e) as unknown as EmbedReply); // already that JSON
    return reply.serializer(JSON.stringify).send({ model: e.model.record.id, dimension: e.model.k, embeddings: ServingService.toBase64(e) });
  });
}

/**
 * JSON bodies of /embed and /distances, whose numbers all become float32: read by
 * Float32JsonParser straight from the body's bytes, and by the app's JSON parser (Fastify's own,
 * http/json-body.ts) whenever that parser declines, so errors are the standard ones.
 */
function float32JsonBodies(app: App): void {
  const parser = new Float32JsonParser();
  const standard = jsonBodyParser(app);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const v = parser.parse(body as Buffer);
    if (v !== FALLBACK) done(null, v);
    else standard(req, (body as Buffer).toString('utf8'), done);
  });
}

export default async function servingRoutes(app: App): Promise<void> {
  const { serving } = app.services;
  const tags = ['serving'];

  float32JsonBodies(app);
  await app.register(embedRoute);

  app.post('/distances', {
    schema: {
      tags,
      summary: 'Distances between embeddings',
      description:
        'distances[i][j] is the distance between the embeddings of a[i] and b[j] (or a[j] without b). ' +
        'Metrics: euclidean (default), squared_euclidean, cosine (1 − cos).',
      body: DistancesBody,
      response: { 200: DistancesReply, ...errors(400, 404, 409, 413, 415) },
    },
  }, async (req) => serving.distances(req.body.model, req.body.a, req.body.b, req.body.metric ?? 'euclidean'));
}
