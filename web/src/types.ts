// The parts of the service's replies the console reads (openapi/openapi.json has the whole shapes).
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Progress {
  iteration: number;
  maxIterations: number;
  loss?: number;
  gradientNorm?: number;
  activeFraction: number;
  elapsedMs: number;
  learningRate?: number;
  validationLoss?: number;
  validationTripletAccuracy?: number;
  precisionAt1?: number;
  mapAtR?: number;
  validationIteration?: number;
  bestIteration?: number;
  warning?: string;
  phase?: string;
  etaMs?: number;
}

export interface Job {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  kind: 'train' | 'reindex';
  datasetId: string | null;
  params: Record<string, unknown> | null;
  /** null in the stream's status events of a job not yet started */
  progress: Progress | null;
  metrics: Record<string, unknown> & { stopReason?: string };
  modelId: string | null;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  modelName: string | null;
  promote: string | null;
}

export interface ProgressPoint {
  seq: number;
  createdAt: string;
  progress: Progress;
}

export interface Model {
  id: string;
  name: string | null;
  inputDimension: number;
  outputDimension: number;
  normalize: boolean;
  metrics: Record<string, unknown> & { trainLoss?: number; iterations?: number; stopReason?: string };
  createdAt: string;
}

export interface Alias {
  name: string;
  model: string;
  previousModel: string | null;
  updatedAt: string;
}

export interface Dataset {
  id: string;
  name: string | null;
  dimension: number;
  tripletCount: number;
  sampleCount: number;
  labelCount: number;
}

export interface Gallery {
  id: string;
  name: string | null;
  model: string;
  dimension: number;
  embeddingDimension: number;
  index: string;
  version: number;
  itemCount: number;
}

export interface TarAtFar {
  far: number;
  tar: number | null;
  threshold: number | null;
  reason: string | null;
}

export interface Evaluation {
  model: string;
  /** null when queryCount is 0 (no label twice) */
  precisionAt1?: number | null;
  rPrecision?: number | null;
  mapAtR?: number | null;
  queryCount?: number;
  sampleCount?: number;
  tripletAccuracy: number | null;
  verification?: {
    genuineCount: number;
    impostorCount: number;
    tarAtFar: TarAtFar[];
    eer: number | null;
    eerThreshold: number | null;
    auc: number | null;
    reason: string | null;
    curve?: { far: number; tar: number }[];
  };
}

export interface Hit {
  id: string;
  label: string | number | null;
  distance: number;
}

export const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
