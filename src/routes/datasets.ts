import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import { errors, IdParams, ListOf, PageQuery } from '../schemas/common.js';
import { AppendReply, CreateDatasetBody, Dataset, TripletsBody } from '../schemas/datasets.js';

export default async function datasetRoutes(app: App): Promise<void> {
  const { datasets } = app.services;
  const tags = ['datasets'];

  app.post('/datasets', {
    schema: {
      tags, summary: 'Create a dataset', description: 'A dataset holds triplets (and later labelled samples) of one fixed dimension.',
      body: CreateDatasetBody, response: { 201: Dataset, ...errors(400, 415, 422) },
    },
  }, async (req, reply) => reply.code(201).send(datasets.create(req.body)));

  app.get('/datasets', {
    schema: { tags, summary: 'List datasets', description: 'Newest first; page with ?limit=&cursor=.', querystring: PageQuery, response: { 200: ListOf(Dataset), ...errors(400) } },
  }, async (req) => datasets.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }));

  app.get('/datasets/:id', {
    schema: { tags, summary: 'Get a dataset', params: IdParams, response: { 200: Dataset, ...errors(404) } },
  }, async (req) => datasets.get(req.params.id));

  app.delete('/datasets/:id', {
    schema: {
      tags, summary: 'Delete a dataset', description: 'Deletes the dataset and its vectors. 409 while a queued or running job uses it.',
      params: IdParams, response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404, 409) },
    },
  }, async (req, reply) => {
    datasets.delete(req.params.id);
    return reply.code(204).send(null);
  });

  app.post('/datasets/:id/triplets', {
    schema: {
      tags,
      summary: 'Append triplets',
      description:
        'All or nothing. `application/json` with `{ "triplets": [...] }`; `application/x-ndjson`, one ' +
        '`{ "anchor", "positive", "negative" }` object per line, streamed; or `application/octet-stream`, ' +
        'little-endian float32, n × 3 × dimension values.',
      params: IdParams,
      // Only JSON bodies are validated by schema; NDJSON and binary streams are checked as they are read.
      body: {
        content: {
          'application/json': { schema: TripletsBody },
          'application/x-ndjson': { schema: { description: 'One {"anchor","positive","negative"} object per line' } },
          'application/octet-stream': { schema: { description: 'Little-endian float32, n × 3 × dimension values' } },
        },
      },
      response: { 201: AppendReply, ...errors(400, 404, 413, 415, 422) },
    },
  }, async (req, reply) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const id = req.params.id;
    let result;
    if (type === 'application/x-ndjson') result = await datasets.appendNdjson(id, req.body as unknown as Readable);
    else if (type === 'application/octet-stream') result = await datasets.appendBinary(id, req.body as unknown as Readable);
    else if (type === 'application/json') result = datasets.appendJson(id, (req.body as TripletsBody).triplets);
    else throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
    return reply.code(201).send(result);
  });
}
