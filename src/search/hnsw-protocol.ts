// Messages between the gallery cache and the HNSW thread (src/search/hnsw-thread.ts,
// src/search/hnsw-worker.ts). Rows and queries travel as transferred float32 buffers.
import type { HnswParams } from './hnsw-index.js';

export interface HnswBuildCall {
  id: number;
  op: 'build';
  /** names the index in the thread: gallery id and version */
  key: string;
  rows: Float32Array;
  n: number;
  k: number;
  params: Partial<HnswParams>;
  /** queries of the recall measurement, drawn from the rows */
  recallSample: number;
}

export interface HnswSearchCall {
  id: number;
  op: 'search';
  key: string;
  queries: Float32Array;
  q: number;
  top: number;
  /** squared distance bound, if any */
  maxDistance?: number;
}

export interface HnswDisposeCall {
  id: number;
  op: 'dispose';
  key: string;
}

export type HnswCall = HnswBuildCall | HnswSearchCall | HnswDisposeCall;

export interface HnswBuilt {
  buildMs: number;
  recallAt10: number;
  recallQueries: number;
  capacity: number;
}

/** Per query: item indexes nearest first and their squared distances (rescored from the stored rows). */
export interface HnswFound {
  indexes: Int32Array[];
  distances: Float64Array[];
}

export type HnswAnswer = { id: number; value: HnswBuilt | HnswFound | null } | { id: number; error: string };
