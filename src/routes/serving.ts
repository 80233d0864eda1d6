import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import { sendEmbedded } from '../http/embed-reply.js';
import { sendRowsJson } from '../http/rows-json.js';
import { JSON_TYPE, mediaType, OCTET } from '../http/media-type.js';
import { inputRows, vectorRows, type Encoding } from '../http/model-rows.js';
import { errors } from '../schemas/common.js';
import { DistancesBody, DistancesReply, EmbedBody, EmbedQuery, EmbedReply } from '../schemas/serving.js';
import type { Embedded, StagedRows } from '../services/serving.js';

export default async function servingRoutes(app: App): Promise<void> {
  const { serving } = app.services;
  const tags = ['serving'];

  app.post(
    '/embed',
    {
      schema: {
        tags,
        summary: 'Embed vectors',
        description:
          'Embedding i is W·inputs[i], L2-normalised when the model says so. `model` is an id or an alias, by default ' +
          'the alias `default`; the reply names the model id. ' +
          'JSON rows, base64 float32 rows (`"encoding": "base64"`), or a binary body (`application/octet-stream`, ' +
          'n×d little-endian float32, `?model=&rows=`). `Accept: application/octet-stream` gives an n×k float32 reply.',
        body: {
          content: {
            'application/json': { schema: EmbedBody },
            'application/octet-stream': {
              schema: { description: 'n×d little-endian float32, row-major; pass ?model=&rows=' },
            },
          },
        },
        querystring: EmbedQuery,
        response: { 200: EmbedReply, ...errors(400, 404, 409, 413, 415, 422) },
      },
      // JSON numbers are read straight to float32; a binary body goes straight into the kernels' memory.
      config: { body: ['float32-json', 'staged-binary'] },
    },
    async (req, reply) => {
      const type = mediaType(req);
      let e: Embedded;
      let encoding: Encoding = 'float';
      // the reply's form, for REPLY_BYTES_LIMIT (src/http/embed-reply.ts answers binary on this Accept)
      const binaryReply = (req.headers.accept ?? '').toLowerCase().includes(OCTET);
      if (type === OCTET) {
        const body = req.body as unknown as StagedRows;
        try {
          e = await serving.embedStaged(req.query.model, body, req.query.rows, binaryReply ? 'binary' : 'json');
        } finally {
          body.release();
        }
      } else if (type === JSON_TYPE) {
        if (req.query.rows !== undefined)
          throw new AppError(400, 'VALIDATION_ERROR', 'querystring/rows applies to binary requests only');
        const body = req.body as EmbedBody;
        encoding = body.encoding ?? 'float';
        const format = binaryReply ? 'binary' : encoding === 'base64' ? 'base64' : 'json';
        const m = await serving.modelFor(body.model ?? req.query.model, body.inputs.length, 'inputs', format);
        const X = inputRows(body.inputs, encoding, m);
        e = await serving.embedInSlices(m, X.data, X.count);
      } else {
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
      }
      return sendEmbedded(req, reply, e, encoding);
    },
  );

  app.post(
    '/distances',
    {
      schema: {
        tags,
        summary: 'Distances between embeddings',
        description:
          'distances[i][j] is the distance between the embeddings of a[i] and b[j] (or a[j] without b). ' +
          'Metrics: euclidean (default), squared_euclidean, cosine (1 − cos). `model` as for /embed.',
        body: DistancesBody,
        response: { 200: DistancesReply, ...errors(400, 404, 409, 413, 415, 422) },
      },
      config: { body: ['float32-json'] },
    },
    async (req, reply) => {
      const { model, a, b, metric } = req.body;
      const m = await serving.modelForDistances(model, a.length, b?.length);
      const rowsA = vectorRows(a, m, 'a');
      const rowsB = b && vectorRows(b, m, 'b');
      const d = await serving.distances(m, rowsA, rowsB, metric ?? 'euclidean');
      // DistancesReply's shape, written by rows-json.ts (float32 digits, streamed when large)
      const head = `{"model":${JSON.stringify(d.model)},"metric":${JSON.stringify(d.metric)},"distances":`;
      return sendRowsJson(reply, head, d.data, d.rows, d.cols, '}');
    },
  );
}
