// Galleries: sets of items (id, optional label, input features, embedding) bound to one model,
// searched for the nearest items. The record is defined once here (schema, OpenAPI component, type).
// docs/decisions/0031-galleries.md.
import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from './records.js';

/** Index kinds a gallery may name. Only exact search exists yet; "hnsw" joins when its index lands. */
export const GALLERY_INDEX_KINDS = ['exact'] as const;
export type GalleryIndexKind = (typeof GALLERY_INDEX_KINDS)[number];
export const GalleryIndexKind = Type.Union(
  GALLERY_INDEX_KINDS.map((k) => Type.Literal(k)),
  { description: 'How the gallery is searched: `exact` (brute force through the kernels)' },
);

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

/** The items readUnindexed hands a reindex job. */
export interface UnindexedItems {
  ids: string[];
  /** ids.length × dimension float32, row-major */
  features: Float32Array;
  dimension: number;
  /** items whose pending embedding is still null, these included */
  remaining: number;
}

export type ReindexCommit = { committed: true; gallery: GalleryRecord } | { committed: false; remaining: number };
