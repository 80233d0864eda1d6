// /galleries: CRUD, item uploads (JSON, NDJSON, binary records), erasure, exact search.
// Thin: decode and validate here, the work in src/services/galleries.ts.
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { App } from '../app-types.js';
import { AppError, badRequest } from '../errors.js';
import { binaryItems, jsonItems, ndjsonItems } from '../http/gallery-items.js';
import { JSON_TYPE, mediaType, NDJSON, OCTET } from '../http/media-type.js';
import { decodeBase64Row, writeRow } from '../http/rows.js';
import { sendSearch } from '../http/search-reply.js';
import { errors, IdParams, ListOf, PageQuery } from '../schemas/common.js';
import {
  CreateGalleryBody,
  DeletedReply,
  Gallery,
  GalleryDetail,
  ItemParams,
  LabelQuery,
  SearchBody,
  SearchQuery,
  SearchReply,
  UpsertItemsBody,
  UpsertReply,
} from '../schemas/galleries.js';
import type { SearchQueries } from '../services/galleries.js';
import type { StagedRows } from '../services/serving.js';
import { IdempotencyHeaders, idempotencyKeyHook, sendIdempotent } from './idempotent-upload.js';

const BINARY_LAYOUT =
  'records back to back: u16 LE id byte length (1–1024), the id (UTF-8, 1–256 characters), u8 label kind ' +
  '(0 none, 1 an int32 LE label follows, 2 a string label follows as u16 LE byte length and UTF-8 bytes), ' +
  'then d little-endian float32 features';

/** JSON query rows (numbers or base64 float32) of `width` values each. */
function jsonQueries(
  rows: (number[] | string)[],
  kind: SearchQueries['kind'],
  encoding: string,
  width: number,
  owner: string,
): SearchQueries {
  const data = new Float32Array(rows.length * width);
  rows.forEach((row, i) => {
    const where = `${kind}[${i}]`;
    if (encoding === 'base64') {
      if (typeof row !== 'string')
        throw badRequest('VALIDATION_ERROR', `${where} must be a base64 string (encoding is base64)`);
      decodeBase64Row(row, data, i * width, width, where, owner);
    } else {
      if (typeof row === 'string')
        throw badRequest(
          'VALIDATION_ERROR',
          `${where} must be an array of numbers (set "encoding": "base64" for strings)`,
        );
      writeRow(row, data, i * width, width, where, owner);
    }
  });
  return { kind, data, count: rows.length };
}

/** A staged binary body of n rows of `width` float32, every value checked finite. */
function binaryQueries(body: StagedRows, kind: SearchQueries['kind'], width: number, owner: string): SearchQueries {
  const rowBytes = 4 * width;
  if (body.byteLength === 0) throw badRequest('EMPTY_BATCH', 'the body holds no queries');
  if (body.byteLength % rowBytes !== 0)
    throw badRequest(
      'DIMENSION_MISMATCH',
      `body is ${body.byteLength} bytes, not a whole number of ${width}-value float32 rows for ${owner} (${kind})`,
    );
  const data = new Float32Array(body.byteLength / 4);
  for (let i = 0; i < data.length; i++) {
    const v = body.value(i);
    if (!Number.isFinite(v))
      throw badRequest('NON_FINITE_VALUE', `body: row ${Math.floor(i / width)}, value ${i % width} is ${v}`);
    data[i] = v;
  }
  return { kind, data, count: data.length / width };
}

export default async function galleryRoutes(app: App): Promise<void> {
  const { galleries } = app.services;
  const tags = ['galleries'];

  app.post(
    '/galleries',
    {
      schema: {
        tags,
        summary: 'Create a gallery',
        description:
          'A gallery holds items (id, optional label, input features) embedded with one model, pinned at creation, ' +
          'and is searched for the nearest items. `index`: `exact` (default) or `hnsw` (an approximate index with ' +
          'M 16, efConstruction 200, efSearch 64, built per version in a thread; exact search answers until it is ready).',
        body: CreateGalleryBody,
        response: { 201: Gallery, ...errors(400, 404, 415, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await galleries.create(req.body)),
  );

  app.get(
    '/galleries',
    {
      schema: {
        tags,
        summary: 'List galleries',
        description: 'Newest first; page with ?limit=&cursor=.',
        querystring: PageQuery,
        response: { 200: ListOf(Gallery), ...errors(400) },
      },
    },
    async (req) => galleries.list({ limit: req.query.limit ?? 100, cursor: req.query.cursor }),
  );

  app.get(
    '/galleries/:id',
    {
      schema: {
        tags,
        summary: 'Get a gallery',
        description:
          'Its model, dimensions, index kind, version, item and label counts, a pending reindex if any, and ' +
          "`indexStatus`: this replica's index (for hnsw: state, the version built, recall@10, build time). " +
          'Reading an hnsw gallery starts loading (and indexing) its current version on this replica.',
        params: IdParams,
        response: { 200: GalleryDetail, ...errors(404) },
      },
    },
    async (req) => galleries.detail(req.params.id),
  );

  app.delete(
    '/galleries/:id',
    {
      schema: {
        tags,
        summary: 'Delete a gallery',
        description: 'Deletes the gallery, its items, their features and embeddings.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(404) },
      },
    },
    async (req, reply) => {
      await galleries.delete(req.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/galleries/:id/items',
    {
      schema: {
        tags,
        summary: 'Add or replace items',
        description:
          "All or nothing; an existing id is replaced. Embedded with the gallery's model on upload. " +
          '`application/json` with `{ "items": [{ "id", "label"?, "input" }] }` (`"encoding": "base64"` for base64 ' +
          'float32 inputs); `application/x-ndjson`, one item object per line, streamed; or `application/octet-stream`, ' +
          `${BINARY_LAYOUT}. Ids: 1–256 characters, each at most once a request. Takes an \`Idempotency-Key\`.`,
        params: IdParams,
        headers: IdempotencyHeaders,
        body: {
          content: {
            'application/json': { schema: UpsertItemsBody },
            'application/x-ndjson': { schema: { description: 'One {"id","label"?,"input"} object per line' } },
            'application/octet-stream': { schema: { description: BINARY_LAYOUT } },
          },
        },
        response: { 201: UpsertReply, ...errors(400, 404, 409, 413, 415, 422, 503) },
      },
      config: { body: ['float32-json'] },
      preParsing: idempotencyKeyHook,
    },
    async (req, reply) => {
      const type = mediaType(req);
      const id = req.params.id;
      if (type === JSON_TYPE) {
        const body = req.body as UpsertItemsBody;
        return sendIdempotent(req, reply, id, async (ticket) => {
          const g = await galleries.uploadTarget(id, body.items.length);
          const batch = jsonItems(body.items, body.encoding ?? 'float', uploadOf(req, g));
          return galleries.upsert(g, [batch], ticket);
        });
      }
      if (type !== NDJSON && type !== OCTET)
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
      return sendIdempotent(req, reply, id, async (ticket) => {
        const g = await galleries.uploadTarget(id);
        const stream = req.body as Readable;
        const batches = type === NDJSON ? ndjsonItems(stream, uploadOf(req, g)) : binaryItems(stream, uploadOf(req, g));
        return galleries.upsert(g, batches, ticket);
      });
    },
  );

  app.delete(
    '/galleries/:id/items/:itemId',
    {
      schema: {
        tags,
        summary: 'Delete one item',
        description: 'Its features and embedding are deleted (SQLite: overwritten on disk).',
        params: ItemParams,
        response: { 200: DeletedReply, ...errors(404) },
      },
    },
    async (req) => galleries.deleteItem(req.params.id, req.params.itemId),
  );

  app.delete(
    '/galleries/:id/items',
    {
      schema: {
        tags,
        summary: 'Delete every item of one identity',
        description:
          '`?label=X` deletes the items labelled with the string X, or with the integer X when X is an integer ' +
          '(`&labelType=string|integer` says which; unsaid, 400 when the gallery holds both). ' +
          'Their features and embeddings are deleted (SQLite: overwritten on disk).',
        params: IdParams,
        querystring: LabelQuery,
        response: { 200: DeletedReply, ...errors(400, 404) },
      },
    },
    async (req) => galleries.deleteLabel(req.params.id, req.query.label, req.query.labelType),
  );

  app.post(
    '/galleries/:id/search',
    {
      schema: {
        tags,
        summary: 'Search a gallery',
        description:
          'Per query, up to k items `{id, label, distance}`, nearest first, ties by id (UTF-8 byte order); exact. ' +
          'Queries as `inputs` (features, embedded with the gallery model) or `embeddings`, as JSON numbers, base64 ' +
          'float32 (`"encoding": "base64"`), or a binary body (`application/octet-stream`, n rows of little-endian ' +
          'float32, `?query=inputs|embeddings&k=&maxDistance=&metric=`). k ≤ 1000; queries ≤ GALLERY_MAX_QUERIES.',
        params: IdParams,
        querystring: SearchQuery,
        body: {
          content: {
            'application/json': { schema: SearchBody },
            'application/octet-stream': {
              schema: { description: 'n rows of little-endian float32 (d values for inputs, k for embeddings)' },
            },
          },
        },
        response: { 200: SearchReply, ...errors(400, 404, 409, 413, 415, 422) },
      },
      config: { body: ['float32-json', 'staged-binary'] },
    },
    async (req, reply) => {
      const type = mediaType(req);
      const id = req.params.id;
      if (type === OCTET) {
        const body = req.body as unknown as StagedRows;
        try {
          const { query, k, maxDistance, metric } = req.query;
          if (k === undefined) throw badRequest('VALIDATION_ERROR', 'querystring must have required property k');
          const kind = query ?? 'inputs';
          const g0 = await galleries.get(id);
          const width = kind === 'inputs' ? g0.dimension : g0.embeddingDimension;
          const rows = body.byteLength / (4 * width);
          await galleries.searchTarget(id, Number.isInteger(rows) ? rows : 1);
          const q = binaryQueries(body, kind, width, `gallery ${g0.id}`);
          // searched as the record the width came from: a reindex since then is answered, not mixed
          return sendSearch(reply, await galleries.search(g0, q, { k, maxDistance, metric }));
        } finally {
          body.release();
        }
      }
      if (type !== JSON_TYPE)
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'} is not accepted here`);
      if (Object.keys(req.query).length > 0)
        throw badRequest('VALIDATION_ERROR', 'the query string applies to binary requests only');
      const body = req.body as SearchBody;
      if ((body.inputs === undefined) === (body.embeddings === undefined))
        throw badRequest('VALIDATION_ERROR', 'body must have exactly one of inputs and embeddings');
      const kind = body.inputs ? 'inputs' : 'embeddings';
      const rows = (body.inputs ?? body.embeddings)!;
      const { gallery, model } = await galleries.searchTarget(id, rows.length);
      const width = kind === 'inputs' ? model.d : gallery.embeddingDimension;
      const q = jsonQueries(rows, kind, body.encoding ?? 'float', width, `gallery ${gallery.id}`);
      return sendSearch(
        reply,
        await galleries.search(gallery, q, { k: body.k, maxDistance: body.maxDistance, metric: body.metric }),
      );
    },
  );
}

function uploadOf(req: FastifyRequest, g: { id: string; dimension: number }) {
  return { dimension: g.dimension, owner: `gallery ${g.id}`, maxTotal: req.server.config.limits.uploadLimit };
}
