import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { App } from '../app-types.js';
import { AppError } from '../errors.js';
import { decodeBinary } from '../http/binary.js';
import { packSamples, packTriplets } from '../http/dataset-rows.js';
import { JSON_TYPE, mediaType, NDJSON, OCTET } from '../http/media-type.js';
import { decodeNdjson } from '../http/ndjson.js';
import { errors, IdParams, ListOf, PageQuery } from '../schemas/common.js';
import {
  AppendReply,
  AppendSamplesReply,
  CreateDatasetBody,
  Dataset,
  EraseLabelQuery,
  EraseLabelReply,
  LabelCount,
  SamplesBody,
  TripletsBody,
} from '../schemas/datasets.js';
import type { ChunkKind, DatasetService, Label, RowBatch } from '../services/datasets.js';
import type { IdempotencyTicket } from '../services/idempotency.js';
import { clientSignal, withRetryAfter } from './heavy.js';
import { IdempotencyHeaders, idempotencyKeyHook, sendIdempotent } from './idempotent-upload.js';

/** `?label=&labelType=` as the label it names; 400 for an integer label that is not one. */
function labelOf(q: EraseLabelQuery): Label {
  if (q.labelType !== 'integer') return q.label;
  const n = Number(q.label);
  if (!/^-?\d+$/.test(q.label) || !Number.isSafeInteger(n))
    throw new AppError(400, 'VALIDATION_ERROR', `label "${q.label}" is not an integer (labelType=integer)`);
  return n;
}

/**
 * A streamed upload (NDJSON or binary) of a kind into dataset id, decoded as it is read. The
 * dataset is looked up first: its dimension shapes the decoding.
 */
async function appendStreamed<K extends ChunkKind>(
  req: FastifyRequest,
  datasets: DatasetService,
  id: string,
  kind: K,
  ticket?: IdempotencyTicket,
) {
  const type = mediaType(req);
  if (type !== NDJSON && type !== OCTET) {
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
  }
  const ds = await datasets.get(id);
  const maxTotal = req.server.config.limits.uploadLimit;
  const body = req.body as Readable;
  const batches: AsyncIterable<RowBatch> =
    type === NDJSON
      ? decodeNdjson(body, { kind, dimension: ds.dimension, owner: `dataset ${ds.id}`, maxTotal })
      : decodeBinary(body, { kind, dimension: ds.dimension, maxTotal });
  return datasets.appendStream(ds, kind, batches, ticket);
}

export default async function datasetRoutes(app: App): Promise<void> {
  const { datasets } = app.services;
  const tags = ['datasets'];

  app.post(
    '/datasets',
    {
      schema: {
        tags,
        summary: 'Create a dataset',
        description: 'A dataset holds triplets (and later labelled samples) of one fixed dimension.',
        body: CreateDatasetBody,
        response: { 201: Dataset, ...errors(400, 415, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await datasets.create(req.body)),
  );

  app.get(
    '/datasets',
    {
      schema: {
        tags,
        summary: 'List datasets',
        description: 'Newest first; page with ?limit=&cursor=.',
        querystring: PageQuery,
        response: { 200: ListOf(Dataset), ...errors(400) },
      },
    },
    async (req) => datasets.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  );

  app.get(
    '/datasets/:id',
    {
      schema: {
        tags,
        summary: 'Get a dataset',
        description: 'Its dimension and how many triplets and labelled samples it holds.',
        params: IdParams,
        response: { 200: Dataset, ...errors(404) },
      },
    },
    async (req) => datasets.get(req.params.id),
  );

  app.delete(
    '/datasets/:id',
    {
      schema: {
        tags,
        summary: 'Delete a dataset',
        description: 'Deletes the dataset and its vectors. 409 while a queued or running job uses it.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      await datasets.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/datasets/:id/triplets',
    {
      schema: {
        tags,
        summary: 'Append triplets',
        description:
          'All or nothing. `application/json` with `{ "triplets": [...] }`; `application/x-ndjson`, one ' +
          '`{ "anchor", "positive", "negative" }` object per line, streamed; or `application/octet-stream`, ' +
          'little-endian float32, n × 3 × dimension values.',
        params: IdParams,
        headers: IdempotencyHeaders,
        // Only JSON bodies are validated by schema; NDJSON and binary streams are checked as they are read.
        body: {
          content: {
            'application/json': { schema: TripletsBody },
            'application/x-ndjson': { schema: { description: 'One {"anchor","positive","negative"} object per line' } },
            'application/octet-stream': { schema: { description: 'Little-endian float32, n × 3 × dimension values' } },
          },
        },
        response: { 201: AppendReply, ...errors(400, 404, 409, 413, 415, 422, 503) },
      },
      preParsing: idempotencyKeyHook,
    },
    async (req, reply) => {
      const id = req.params.id;
      if (mediaType(req) !== JSON_TYPE)
        return sendIdempotent(req, reply, id, (ticket) => appendStreamed(req, datasets, id, 'triplets', ticket));
      const { triplets, indexTriplets } = req.body as TripletsBody;
      if ((triplets === undefined) === (indexTriplets === undefined)) {
        throw new AppError(400, 'VALIDATION_ERROR', 'body must have exactly one of triplets and indexTriplets');
      }
      if (indexTriplets) {
        const signal = clientSignal(req, reply);
        return sendIdempotent(req, reply, id, (ticket) =>
          withRetryAfter(reply, () => datasets.appendIndexTriplets(id, indexTriplets, signal, ticket)),
        );
      }
      return sendIdempotent(req, reply, id, async (ticket) => {
        const ds = await datasets.uploadTarget(id, 'triplets', triplets!.length);
        return datasets.append(ds, 'triplets', packTriplets(triplets!, ds.dimension, `dataset ${ds.id}`), ticket);
      });
    },
  );

  app.post(
    '/datasets/:id/samples',
    {
      schema: {
        tags,
        summary: 'Append labelled samples',
        description:
          'All or nothing. Samples are what online triplet mining trains on, and what `indexTriplets` refer to (by upload ' +
          'order). `application/json` with `{ "samples": [{ "vector", "label" }] }` (labels are strings or integers); ' +
          '`application/x-ndjson`, one `{ "vector", "label" }` object per line, streamed; or `application/octet-stream`, ' +
          'per sample a little-endian int32 label followed by dimension little-endian float32 values.',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: {
          content: {
            'application/json': { schema: SamplesBody },
            'application/x-ndjson': { schema: { description: 'One {"vector","label"} object per line' } },
            'application/octet-stream': {
              schema: { description: 'Per sample: int32 label, then dimension float32 values, little-endian' },
            },
          },
        },
        response: { 201: AppendSamplesReply, ...errors(400, 404, 409, 413, 415, 422) },
      },
      preParsing: idempotencyKeyHook,
    },
    async (req, reply) => {
      const id = req.params.id;
      if (mediaType(req) !== JSON_TYPE)
        return sendIdempotent(req, reply, id, (ticket) => appendStreamed(req, datasets, id, 'samples', ticket));
      const { samples } = req.body as SamplesBody;
      return sendIdempotent(req, reply, id, async (ticket) => {
        const ds = await datasets.uploadTarget(id, 'samples', samples.length);
        return datasets.append(ds, 'samples', packSamples(samples, ds.dimension, `dataset ${ds.id}`), ticket);
      });
    },
  );

  app.get(
    '/datasets/:id/labels',
    {
      schema: {
        tags,
        summary: "List a dataset's labels",
        description:
          'Each label of the committed samples with its sample count: integer labels first (ascending), then ' +
          'string labels in byte order (on PostgreSQL, of their JSON text: they differ only for quotes, ' +
          'backslashes and control characters). Page with ?limit=&cursor=.',
        params: IdParams,
        querystring: PageQuery,
        response: { 200: ListOf(LabelCount), ...errors(400, 404) },
      },
    },
    async (req) => datasets.labels(req.params.id, { limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  );

  app.delete(
    '/datasets/:id/samples',
    {
      schema: {
        tags,
        summary: "Erase one label's samples",
        description:
          'Erases every sample with the label, and every triplet that holds one (index triplets that use one, ' +
          'triplets with a byte-equal copy of one), all or nothing; the index triplets left are renumbered. The ' +
          'bytes leave the database file (SQLite: secure delete and a WAL truncation; PostgreSQL: VACUUM, see ' +
          'docs/decisions/0034-identity-level-data.md). 404 LABEL_NOT_FOUND when no sample has the label; ' +
          '409 while a queued or running job uses the dataset.',
        params: IdParams,
        querystring: EraseLabelQuery,
        response: { 200: EraseLabelReply, ...errors(400, 404, 409) },
      },
    },
    async (req) => datasets.eraseLabel(req.params.id, labelOf(req.query)),
  );
}
