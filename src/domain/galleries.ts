// Galleries: sets of items (id, optional label, input features, embedding) bound to one model,
// searched for the nearest items. The record is defined once here (schema, OpenAPI component, type).
// docs/decisions/0031-galleries.md.
import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from './records.js';

/** Index kinds a gallery may name (docs/decisions/0036-hnsw-galleries.md for hnsw). */
export const GALLERY_INDEX_KINDS = ['exact', 'hnsw'] as const;
export type GalleryIndexKind = (typeof GALLERY_INDEX_KINDS)[number];
export const GalleryIndexKind = Type.Union(
  GALLERY_INDEX_KINDS.map((k) => Type.Literal(k)),
  {
    description:
      'How the gallery is searched: `exact` (brute force through the kernels) or `hnsw` (an approximate graph ' +
      'index, built per version in a thread of its own; exact search answers until it is ready)',
  },
);

/** The states of a replica's HNSW index for a gallery. */
export const HNSW_STATES = ['none', 'building', 'ready', 'failed'] as const;
export type HnswState = (typeof HNSW_STATES)[number];

/** A gallery's search index as this replica holds it (GET /galleries/:id). */
export const GalleryIndexStatus = Type.Object(
  {
    kind: GalleryIndexKind,
    state: Type.Optional(
      Type.Union(
        HNSW_STATES.map((s) => Type.Literal(s)),
        {
          description:
            'hnsw only, per replica: `none` (the gallery is not loaded here yet: its first search loads it), ' +
            '`building`, `ready`, `failed`',
        },
      ),
    ),
    builtVersion: Type.Optional(
      Type.Union([Type.Integer(), Type.Null()], { description: 'The gallery version the index was built from' }),
    ),
    recallAt10: Type.Optional(
      Type.Union([Type.Number(), Type.Null()], {
        description: 'recall@10 against exact search, measured after the build on a seeded sample of ≤ 200 items',
      }),
    ),
    buildMs: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: 'Build time, milliseconds' })),
    error: Type.Optional(Type.String({ description: 'Why the build failed (state `failed`)' })),
  },
  { description: 'Per replica: each replica builds and measures its own index' },
);
export type GalleryIndexStatus = Static<typeof GalleryIndexStatus>;

/** Longest item id, in UTF-16 code units (a JavaScript string's length). */
export const MAX_ITEM_ID_LENGTH = 256;

export const Gallery = Type.Object(
  {
    id: Type.String({ examples: ['gal_3q2x9bK1yY0aQvTn'] }),
    name: Type.Union([Type.String(), Type.Null()]),
    model: Type.String({ description: 'The model whose embeddings the gallery holds (pinned at creation)' }),
    dimension: Type.Integer({ description: "Input features per item: the model's input dimension", examples: [512] }),
    embeddingDimension: Type.Integer({ description: "The model's output dimension", examples: [128] }),
    index: GalleryIndexKind,
    version: Type.Integer({ description: 'Bumped by every write to the items (upload, erase, reindex commit)' }),
    itemCount: Type.Integer(),
    pendingModel: Type.Union([Type.String(), Type.Null()], {
      description: 'While a reindex runs: the model it moves the gallery to',
    }),
    reindexJob: Type.Union([Type.String(), Type.Null()], { description: 'While a reindex runs: its job' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Gallery' },
);
export type GalleryRecord = Static<typeof Gallery>;

/** What a gallery is created with. */
export interface NewGallery {
  name: string | null;
  modelId: string;
  dimension: number;
  embeddingDimension: number;
  index: GalleryIndexKind;
}

/** A gallery's committed embeddings as one consistent read: rows in item-id order (UTF-8 byte order). */
export interface StoredGalleryEmbeddings {
  gallery: GalleryRecord;
  ids: string[];
  /** null for an item without a label */
  labels: (string | number | null)[];
  /** ids.length × embeddingDimension float32, row-major */
  embeddings: Float32Array;
}

/** How `?label=X` names an identity: the string X, the integer X, or (unsaid) whichever the gallery holds. */
export type LabelType = 'string' | 'integer';

/** The items readUnindexed hands a reindex job. */
export interface UnindexedItems {
  ids: string[];
  /** ids.length × dimension float32, row-major */
  features: Float32Array;
  dimension: number;
  /** items whose pending embedding is still null, these included */
  remaining: number;
}

/**
 * A reindex job's batch: the items it read (ids, and the features it read, row-major) and their
 * embeddings by the target model, row-major. The features go back with the embeddings so that the
 * write skips an item replaced since the read: its embedding would be of the old features.
 */
export interface ReindexBatch {
  ids: string[];
  features: Float32Array;
  embeddings: Float32Array;
}

export type ReindexCommit = { committed: true; gallery: GalleryRecord } | { committed: false; remaining: number };
