// Request and reply shapes of /galleries (docs/decisions/0031-galleries.md).
import { Type, type Static } from '@sinclair/typebox';
import { Gallery, GalleryIndexKind, GalleryIndexStatus, MAX_ITEM_ID_LENGTH } from '../domain/galleries.js';
import { Label } from './datasets.js';

export { Gallery };

/** No default here: without one the gallery's model decides (src/services/model-metric.ts defaultMetric). */
const Metric = Type.Union([Type.Literal('euclidean'), Type.Literal('squared_euclidean'), Type.Literal('cosine')], {
  description: "Default: the model's training distance (squared_euclidean when it trained on it), else euclidean",
});

/** The most results one query may ask for. */
export const MAX_SEARCH_K = 1000;

export const CreateGalleryBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    model: Type.String({ minLength: 1, description: 'The model (id) whose embeddings the gallery holds; pinned' }),
    index: Type.Optional(GalleryIndexKind),
  },
  { additionalProperties: false },
);
export type CreateGalleryBody = Static<typeof CreateGalleryBody>;

export const GalleryDetail = Type.Composite([
  Gallery,
  Type.Object({
    labelCount: Type.Integer({ description: 'Distinct labels among the items' }),
    indexStatus: GalleryIndexStatus,
  }),
]);

export const ItemId = Type.String({
  minLength: 1,
  maxLength: MAX_ITEM_ID_LENGTH,
  description: `Unique in the gallery, 1–${MAX_ITEM_ID_LENGTH} characters`,
});

const Input = Type.Union([Type.Array(Type.Number(), { minItems: 1 }), Type.String({ contentEncoding: 'base64' })], {
  description:
    'The input features: d numbers, or with `"encoding": "base64"` a base64 string of d little-endian float32',
});

export const GalleryItem = Type.Object(
  { id: ItemId, label: Type.Optional(Label), input: Input },
  { additionalProperties: false },
);
export type GalleryItemInput = Static<typeof GalleryItem>;

export const UpsertItemsBody = Type.Object(
  {
    items: Type.Array(GalleryItem, { minItems: 1 }),
    encoding: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')], { default: 'float' })),
  },
  {
    additionalProperties: false,
    description:
      'application/json. Also accepted: application/x-ndjson (one {"id","label"?,"input"} object per line, input as ' +
      'numbers) and application/octet-stream (records, see the operation description).',
  },
);
export type UpsertItemsBody = Static<typeof UpsertItemsBody>;

export const UpsertReply = Type.Object({
  added: Type.Integer({ description: 'Items written (new or replaced)' }),
  itemCount: Type.Integer(),
  version: Type.Integer(),
  model: Type.String({ description: 'The model the items were embedded with' }),
});

export const ItemParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  itemId: ItemId,
});

export const LabelQuery = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 256, description: 'The identity: its string, or an integer' }),
    labelType: Type.Optional(
      Type.Union([Type.Literal('string'), Type.Literal('integer')], {
        description:
          'Whether `label` names a string label or an integer one (7 and "7" are different identities). ' +
          'Unsaid: whichever the gallery holds; 400 when it holds both',
      }),
    ),
  },
  { additionalProperties: false },
);

export const DeletedReply = Type.Object({
  deleted: Type.Integer(),
  itemCount: Type.Integer(),
  version: Type.Integer(),
});

const QueryRow = Type.Union([Type.Array(Type.Number(), { minItems: 1 }), Type.String({ contentEncoding: 'base64' })]);

export const SearchBody = Type.Object(
  {
    inputs: Type.Optional(Type.Array(QueryRow, { minItems: 1, description: 'Query features (d), embedded first' })),
    embeddings: Type.Optional(
      Type.Array(QueryRow, { minItems: 1, description: "Query embeddings (k), of the gallery's model" }),
    ),
    encoding: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')], { default: 'float' })),
    k: Type.Integer({ minimum: 1, maximum: MAX_SEARCH_K, description: `Results per query, 1–${MAX_SEARCH_K}` }),
    maxDistance: Type.Optional(Type.Number({ minimum: 0, description: 'Only items at most this far' })),
    metric: Type.Optional(Metric),
  },
  {
    additionalProperties: false,
    description:
      'Exactly one of `inputs` and `embeddings`. Also accepted: application/octet-stream, n rows of little-endian ' +
      'float32 (d values each with ?query=inputs, k with ?query=embeddings) and the options in the query string.',
  },
);
export type SearchBody = Static<typeof SearchBody>;

export const SearchQuery = Type.Object(
  {
    query: Type.Optional(
      Type.Union([Type.Literal('inputs'), Type.Literal('embeddings')], { description: 'Default inputs' }),
    ),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SEARCH_K })),
    maxDistance: Type.Optional(Type.Number({ minimum: 0 })),
    metric: Type.Optional(Metric),
  },
  { additionalProperties: false, description: 'Binary requests only' },
);
export type SearchQuery = Static<typeof SearchQuery>;

export const SearchHit = Type.Object({
  id: Type.String(),
  label: Type.Union([Type.String(), Type.Integer(), Type.Null()]),
  distance: Type.Number(),
});

export const SearchReply = Type.Object({
  model: Type.String({ description: 'The model the gallery is searched with' }),
  metric: Type.String(),
  version: Type.Integer({ description: "The gallery's version the results come from" }),
  index: Type.Union([Type.Literal('exact'), Type.Literal('hnsw')], {
    description:
      'What answered: `hnsw` (the index of this version) or `exact` (an exact gallery; an hnsw gallery whose index ' +
      'is not ready on this replica; a cosine search, which the L2 graph does not serve)',
  }),
  results: Type.Array(Type.Array(SearchHit), { description: 'Per query, up to k hits, nearest first, ties by id' }),
});
