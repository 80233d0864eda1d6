import type { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import { errors, IdParams, ListOf, PageQuery } from '../schemas/common.js';
import { AppendReply, AppendSamplesReply, CreateDatasetBody, Dataset, SamplesBody, TripletsBody } from '../schemas/datasets.js';
import { mediaType } from '../http/media-type.js';

/** Picks the upload path by content type; streamed types get the raw body stream. */
async function byContentType<T>(
  req: FastifyRequest,
  handlers: { json: () => Promise<T>; ndjson: (s: Readable) => Promise<T>; binary: (s: Readable) => Promise<T> },
): Promise<T> {
  const type = mediaType(req);
  if (type === 'application/x-ndjson') return handlers.ndjson(req.body as Readable);
  if (type === 'application/octet-stream') return handlers.binary(req.body as Readable);
  if (type === 'application/json') return handlers.json();
  throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
}

export default async function datasetRoutes(app: App): Promise<void> {
  const { datasets } = app.services;
  const tags = ['datasets'];

  app.post('/datasets', {
    schema: {
      tags, summary: 'Create a dataset', description: 'A dataset holds triplets (and later labelled samples) of one fixed dimension.',
      body: CreateDatasetBody, response: { 201: Dataset, ...errors(400, 415, 422) },
    },
  }, async (req, reply) => reply.code(201).send(await datasets.create(req.body)));

  app.get('/datasets', {
    schema: { tags, summary: 'List datasets', description: 'Newest first; page with ?limit=&cursor=.', querystring: PageQuery, response: { 200: ListOf(Dataset), ...errors(400) } },
  }, async (req) => datasets.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }));

  app.get('/datasets/:id', {
    schema: { tags, summary: 'Get a dataset', description: 'Its dimension and how many triplets and labelled samples it holds.', params: IdParams, response: { 200: Dataset, ...errors(404) } },
  }, async (req) => datasets.get(req.params.id));

  app.delete('/datasets/:id', {
    schema: {
      tags, summary: 'Delete a dataset', description: 'Deletes the dataset and its vectors. 409 while a queued or running job uses it.',
      params: IdParams, response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404, 409) },
    },
  }, async (req, reply) => {
    await datasets.delete(req.params.id);
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
    const id = req.params.id;
    const result = await byContentType(req, {
      ndjson: (s) => datasets.appendNdjson(id, s),
      binary: (s) => datasets.appendBinary(id, s),
      json: () => {
        const body = req.body as TripletsBody;
        if ((body.triplets === undefined) === (body.indexTriplets === undefined)) {
          throw new AppError(400, 'VALIDATION_ERROR', 'body must have exactly one of triplets and indexTriplets');
        }
        return body.triplets ? datasets.appendJson(id, body.triplets) : datasets.appendIndexTriplets(id, body.indexTriplets!);
      },
    });
    return reply.code(201).send(result);
  });

  app.post('/datasets/:id/samples', {
    schema: {
      tags,
      summary: 'Append labelled samples',
      description:
        'All or nothing. Samples are what online triplet mining trains on, and what `indexTriplets` refer to (by upload ' +
        'order). `application/json` with `{ "samples": [{ "vector", "label" }] }` (labels are strings or integers); ' +
        '`application/x-ndjson`, one `{ "vector", "label" }` object per line, streamed; or `application/octet-stream`, ' +
        'per sample a little-endian int32 label followed by dimension little-endian float32 values.',
      params: IdParams,
      body: {
        content: {
          'application/json': { schema: SamplesBody },
          'application/x-ndjson': { schema: { description: 'One {"vector","label"} object per line' } },
          'application/octet-stream': { schema: { description: 'Per sample: int32 label, then dimension float32 values, little-endian' } },
        },
      },
      response: { 201: AppendSamplesReply, ...errors(400, 404, 413, 415, 422) },
    },
  }, async (req, reply) => {
    const id = req.params.id;
    const result = await byContentType(req, {
      ndjson: (s) => datasets.appendSamplesNdjson(id, s),
      binary: (s) => datasets.appendSamplesBinary(id, s),
      json: () => datasets.appendSamplesJson(id, (req.body as SamplesBody).samples),
    });
    return reply.code(201).send(result);
  });
}
