// The cost model: what a training job, a reply or a cached model will take in memory, worked out
// from its parameters before anything is allocated. Pure. Every formula follows the allocations of
// the code it names (src/math/**, src/compute/training-data.ts, the runner and the worker), counts
// typed arrays and WebAssembly memory as well as the JS heap, and errs on the high side: admission
// control refuses on these numbers, so an estimate below the truth is the one mistake that matters.
// docs/operations.md "Budgets" lists the formulas.
import { PCA_EXACT_MAX_D, pcaRowCount, spectrumRank, usesRandomizedPca } from '../math/init.js';
import { formsCovariance, RANDOMIZED_POWER_ITERATIONS, sketchWidth } from '../math/top-eigen.js';
import { gateRowLimit } from '../math/mining/start-gate.js';
import type { MinedTrainingParams, TrainingParams, TripletTrainingParams } from './training.js';

export const MiB = 1024 * 1024;

/** One named part of an estimate, with the formula that gave it. */
export interface CostTerm {
  name: string;
  formula: string;
  bytes: number;
}

export interface CostEstimate {
  bytes: number;
  /** largest first */
  terms: CostTerm[];
}

/** The data a job trains on, as the dataset record counts it. */
export interface JobData {
  /** triplets (triplet jobs) or labelled samples (mined jobs) */
  count: number;
  dimension: number;
  /** threads of the job's kernels (TRIPLET_THREADS) */
  threads: number;
  /** the job takes checkpoints (CHECKPOINT_INTERVAL_MS > 0), or may resume from one */
  checkpoints?: boolean;
}

/**
 * The worker thread itself: its V8 isolate, the compiled kernels, one WebAssembly memory's first
 * pages and the pool threads' isolates. An allowance, not a formula: it does not grow with a parameter.
 */
export const WORKER_BASE_BYTES = 32 * MiB;
export const POOL_THREAD_BYTES = 8 * MiB;

// Sizes fixed by the math core (src/math/**), mirrored here; test/domain/costs.test.ts checks them.
/** rows of the kernels' fused chunks (kernels/wasm.ts DEFAULT_CHUNK_ROWS) */
const CHUNK_ROWS = 64;
/** slabs of partial gradients at most (kernels/wasm.ts MAX_SLABS) */
const MAX_SLABS = 8;
/** rows the accumulate kernel packs at a time (kernels/wasm.ts accumulate) */
const ACCUMULATE_ROWS = 256;
/** rows sampled for the embedding-distance diagnostics (training/diagnostics.ts DISTANCE_SAMPLE) */
const DISTANCE_SAMPLE = 256;
/** rows copied for a mined job's PCA start (mining/train-mined.ts INIT_ROWS) */
const MINED_INIT_ROWS = 2730;
/** training rows scored at the end of a mined job (mining/train-mined.ts TRAIN_EVAL_ROWS) */
const TRAIN_EVAL_ROWS = 1000;
/** validation rows of a mined job (math/defaults.ts validationMaxSamples) */
const VALIDATION_ROWS = 1000;

const ceil8 = (n: number) => Math.ceil(n / 8) * 8;
const align64 = (n: number) => Math.ceil(n / 64) * 64;

function estimate(terms: CostTerm[]): CostEstimate {
  const kept = terms.filter((t) => t.bytes > 0).sort((a, b) => b.bytes - a.bytes);
  return { bytes: kept.reduce((s, t) => s + t.bytes, 0), terms: kept };
}

/**
 * Peak bytes of a training job, from the admission check (the dataset record's count) to the
 * worker's end. `data.count` is m (triplets) or n (samples); k = outputDimension.
 */
export function trainingJobCost(params: TrainingParams, data: JobData): CostEstimate {
  const common: CostTerm[] = [
    { name: 'worker', formula: 'worker thread and kernels (fixed)', bytes: WORKER_BASE_BYTES },
    {
      name: 'pool threads',
      formula: '(threads−1)·8 MiB',
      bytes: Math.max(0, data.threads - 1) * POOL_THREAD_BYTES,
    },
    initCost(params, data),
  ];
  const own = params.source === 'samples' ? minedTerms(params, data) : tripletTerms(params, data);
  return estimate([...common, ...own, ...(data.checkpoints ? [checkpointCost(params, data)] : [])]);
}

/**
 * A checkpoint's bytes, C (docs/decisions/0020-checkpoint-resume.md), held three times at the peak:
 * the copy the core hands out, its v8 serialisation (transferred to the runner, not copied) and
 * the copy the store sends; on resume, the bytes read and the state decoded from them, fewer.
 * 1 KiB covers the params, scalars and the serialisation's tags.
 */
export function checkpointBytes(p: TrainingParams, data: Pick<JobData, 'count' | 'dimension'>): number {
  const kd = p.outputDimension * data.dimension;
  if (p.source === 'samples') {
    const best = p.validationFraction > 0 ? 1 : 0;
    return 8 * kd * (3 + best) + 8 * data.count + 1024;
  }
  if (p.optimizer === 'cg') return 24 * kd + 1024;
  return 16 * kd * (1 + p.historySize) + 8 * p.historySize + 1024;
}

function checkpointCost(p: TrainingParams, data: JobData): CostTerm {
  const c =
    p.source === 'samples'
      ? `8·k·d·(3 + ${p.validationFraction > 0 ? '1 (best W)' : '0'}) + 8·n + 1024`
      : p.optimizer === 'cg'
        ? '24·k·d + 1024'
        : '16·k·d·(1 + historySize) + 8·historySize + 1024';
  return {
    name: 'checkpoint',
    formula: `3·C, C = ${c} (core copy, serialised, store copy)`,
    bytes: 3 * checkpointBytes(p, data),
  };
}

const whitens = (p: TrainingParams): boolean => p.source === 'triplets' && p.preconditioner === 'whiten';

/**
 * The starting W's extra memory: PCA builds d×d matrices (init.ts pcaInit), the others nothing
 * beyond W, unless the job whitens (its spectrum is the same PCA's).
 */
function initCost(p: TrainingParams, data: JobData): CostTerm {
  const d = data.dimension;
  if (p.init !== 'pca' && !whitens(p)) return { name: 'init', formula: `${p.init} init`, bytes: 0 };
  const k = p.outputDimension;
  if (p.init !== 'pca' && d > PCA_EXACT_MAX_D) return randomizedPcaCost(spectrumRank(k, d), d, data.count, true);
  if (p.init === 'pca' && usesRandomizedPca(k, d)) return randomizedPcaCost(Math.min(k, d), d, data.count, false);
  // covariance C (float64), its number[][] copy, ml-matrix's Matrix of it and the eigenvectors V
  return { name: 'PCA init', formula: 'four d×d float64 matrices: 32·d²', bytes: 32 * d * d };
}

function tripletTerms(p: TripletTrainingParams, data: JobData): CostTerm[] {
  const m = data.count;
  const d = data.dimension;
  const k = p.outputDimension;
  const kd = k * d;
  const vectors =
    p.optimizer === 'lbfgs'
      ? {
          n: 2 * p.historySize + 8,
          formula: `(2·historySize + 8)·k·d·8 (L-BFGS history S, Y; W, x, g, xNew, gNew, direction, line search x and g)`,
        }
      : { n: 9, formula: '9·k·d·8 (CG: W, x, g, xNew, gNew, direction, previous direction, line search x and g)' };
  return [
    {
      name: 'training data',
      formula: '2·m·3·d·4 (the triplets as read, and copied into anchor, positive, negative matrices)',
      bytes: 24 * m * d,
    },
    { name: 'optimiser', formula: vectors.formula, bytes: vectors.n * kd * 8 },
    objectiveCost(p.normalize, m, k, d, data.threads),
    {
      // index triplets (trained on their samples when there are no more samples than triplets)
      name: 'triplet bookkeeping',
      formula: '96·m (by index: refs, inactive-bound radii and norms, the resident lists and distances)',
      bytes: 96 * m,
    },
    ...(whitens(p) ? [whiteningCost(p, d)] : []),
    {
      name: 'diagnostics',
      formula: 'min(m, 256)·(d + k)·8 (embedding-distance sample)',
      bytes: Math.min(m, DISTANCE_SAMPLE) * (d + k) * 8,
    },
  ];
}

/**
 * The randomized top-n PCA (init.ts, top-eigen.ts) on s sampled rows with a sketch of l: the
 * centred rows (float32) and their references, Q, Y and the vectors (l×d), the l×l Ritz problem
 * with ml-matrix's copies, and C applied either through the rows (Z and its transpose, s×l) or
 * formed once (a float64 copy of the rows, C, and the kernel's float32 sums: formsCovariance).
 * Also the spectrum a whitened job measures beside a start that is not PCA's, above d = 256.
 */
function randomizedPcaCost(n: number, d: number, m: number, whiteningOnly: boolean): CostTerm {
  const rows = pcaRowCount(m, d);
  const l = sketchWidth(n, d);
  const formed = formsCovariance(rows, d, l, RANDOMIZED_POWER_ITERATIONS);
  const base = rows * d * 4 + 16 * rows + 3 * l * d * 8 + 4 * l * l * 8;
  const op = formed ? 8 * rows * d + 12 * d * d : 2 * rows * l * 8;
  return {
    name: 'PCA init',
    formula:
      's·d·4 + 16·s + 3·l·d·8 + 4·l²·8 + ' +
      (formed ? '8·s·d + 12·d² (C formed)' : '2·s·l·8') +
      ` (randomized${whiteningOnly ? ', whitening only' : ''})`,
    bytes: base + op,
  };
}

/**
 * Whitening (src/math/whitening.ts): r eigenvectors of d (all d up to the exact PCA's 256, else
 * the PCA start's min(k, d), or spectrumRank beside another start), W and ∇_W beside x and ∇_x, a
 * spare k×d map, and the k×r products and their transpose.
 */
function whiteningCost(p: TripletTrainingParams, d: number): CostTerm {
  const k = p.outputDimension;
  const r = d <= PCA_EXACT_MAX_D ? d : p.init === 'pca' ? Math.min(k, d) : spectrumRank(k, d);
  return {
    name: 'whitening',
    formula: `(r·d + 3·k·d + 2·k·r)·8, r = ${r}`,
    bytes: (r * d + 3 * k * d + 2 * k * r) * 8,
  };
}

/**
 * The triplet objective: the larger of its two backends. WebAssembly keeps the rows resident as
 * float32 (A−P and A−N, or A, P, N with normalize) with rows padded to ceil8(d), W packed in panels,
 * per-slab partial gradients, a float64 gradient and each thread's chunk workspace
 * (kernels/wasm.ts createObjective); the JS one keeps A−P and A−N as float32 and m×k float64 projections.
 */
function objectiveCost(normalize: boolean, m: number, k: number, d: number, threads: number): CostTerm {
  const ld = ceil8(d);
  const kp = ceil8(k);
  const streams = normalize ? 3 : 2;
  const slabs = Math.max(1, Math.min(MAX_SLABS, Math.ceil(m / 1024)));
  const work = align64(
    6 * CHUNK_ROWS * kp * 4 + 3 * CHUNK_ROWS * 4 + kp * 4 + 3 * CHUNK_ROWS * ld * 4 + CHUNK_ROWS * 52,
  );
  // plus the argument and result blocks, and each block's 64-byte alignment
  const wasm = streams * m * ld * 4 + kp * ld * 4 * (1 + slabs) + k * d * 8 + threads * work + 4096;
  const js = normalize ? 3 * m * k * 8 : 2 * m * d * 4 + 2 * m * k * 8;
  return {
    name: 'objective',
    formula: normalize
      ? 'max(3·m·ceil8(d)·4 + panels, partials, gradient and thread workspaces; 3·m·k·8)'
      : 'max(2·m·ceil8(d)·4 + panels, partials, gradient and thread workspaces; 2·m·d·4 + 2·m·k·8)',
    bytes: Math.max(wasm, js),
  };
}

function minedTerms(p: MinedTrainingParams, data: JobData): CostTerm[] {
  const n = data.count;
  const d = data.dimension;
  const k = p.outputDimension;
  const B = p.batchSize;
  const K = p.samplesPerLabel;
  const kd = k * d;
  const ld = ceil8(d);
  const kp = ceil8(k);
  const matrices = p.distance === 'squared' ? 2 : 3;
  // every valid triplet without mining; semi-hard keeps up to B·(B−1) (mining/miners.ts)
  const triplets =
    p.mining === 'none' ? B * Math.max(0, K - 1) * Math.max(0, B - K) : p.mining.includes('semihard') ? B * (B - 1) : B;
  const evalRows = Math.min(n, TRAIN_EVAL_ROWS) + (p.validationFraction > 0 ? Math.min(n, VALIDATION_ROWS) : 0);
  // the trial's second run holds its own batch buffers; the evaluation sets and the kernels' scratch
  // are shared, and the evaluation's chunk buffers live only during one evaluation
  const secondRun = 6 * kd * 8 + n * 8 + matrices * 8 * B * B + 12 * triplets + B * d * 4 + 2 * B * k * 8;
  return [
    {
      name: 'training data',
      formula: 'n·d·4 + n·80 (the samples, their labels as read and as ids, the split)',
      bytes: n * d * 4 + n * 80,
    },
    {
      name: 'optimiser',
      formula: "8·k·d·8 (Adam: W, gradient, m, v, best W, returned W; the start W₀ and the pull's copy of it)",
      bytes: 8 * kd * 8,
    },
    {
      name: 'batch distances',
      formula: `${matrices}·B²·8 (distance, similarity and gradient matrices)`,
      bytes: matrices * 8 * B * B,
    },
    {
      name: 'mined triplets',
      formula: p.mining === 'none' ? '12·B·(K−1)·(B−K) (every valid triplet)' : '12·B·(B−1) (semi-hard candidates)',
      bytes: 12 * triplets,
    },
    {
      name: 'batch rows',
      formula: 'B·d·4 + 2·B·k·8 + B·ceil8(d)·4 + B·ceil8(k)·4 (rows, projections, their gradients, kernel scratch)',
      bytes: B * d * 4 + 2 * B * k * 8 + B * ld * 4 + B * kp * 4,
    },
    {
      name: 'gradient scratch',
      formula: 'ceil8(k)·ceil8(d)·4 + 256·(ceil8(k) + ceil8(d))·4 + threads·64·ceil8(d)·4',
      bytes: kp * ld * 4 + ACCUMULATE_ROWS * (kp + ld) * 4 + data.threads * CHUNK_ROWS * ld * 4,
    },
    {
      name: 'evaluation sets',
      formula: 'rows·(d·4 + k·8 + ceil8(k)·4) + 2·64·rows·8, rows = min(n, 1000) training + min(n, 1000) validation',
      bytes: evalRows * (d * 4 + k * 8 + kp * 4) + 2 * CHUNK_ROWS * evalRows * 8,
    },
    {
      name: 'normalize trial',
      formula:
        'with normalize auto, validationFraction > 0 and validationSplit not samples (the trial runs only when validation ' +
        'holds out labels; the label count is not known here), a second run while both ways train: 6·k·d·8 (its W, gradient, m, v, ' +
        "best W, pull's start) + n·8 (its sampler) + its batch distances and mined triplets + B·d·4 + 2·B·k·8 (its batch " +
        'rows); the evaluation sets are shared',
      bytes: p.normalize === 'auto' && p.validationFraction > 0 && p.validationSplit !== 'samples' ? secondRun : 0,
    },
    {
      name: 'init rows',
      formula: 'min(n, 2730)·d·4 (rows for the starting W)',
      bytes: Math.min(n, MINED_INIT_ROWS) * d * 4,
    },
    {
      name: 'start gate rows',
      formula:
        'with startPull or normalize auto: g·(d·4 + k·8 + 4), g = min(n, 2000, ⌊√(3e8/(d + k))⌋) (mining/start-gate.ts)',
      bytes:
        (p.startPull ?? 0) > 0 || p.normalize === 'auto' ? Math.min(n, gateRowLimit(d, k)) * (d * 4 + k * 8 + 4) : 0,
    },
  ];
}

/** Bytes a gallery item id may take as a JS string: up to 256 UTF-16 characters and the string's header. */
const ITEM_ID_BYTES = 256 * 2 + 64;

/**
 * Peak bytes of a reindex job (src/jobs/reindex.ts): one batch of B items' features as read, their
 * ids and their embeddings. The target model lives in the serving model cache (MODEL_CACHE_BYTES,
 * its own budget) and the kernels' memory is the serving kernels', so neither is counted here.
 */
export function reindexJobCost(batch: number, d: number, k: number): CostEstimate {
  return estimate([
    { name: 'batch features', formula: 'B·d·4 (one batch of float32 features, as read)', bytes: batch * d * 4 },
    { name: 'batch embeddings', formula: 'B·k·4', bytes: batch * k * 4 },
    { name: 'batch ids', formula: 'B·576 (item ids of up to 256 characters)', bytes: batch * ITEM_ID_BYTES },
  ]);
}

/** "1.5 GiB" for messages. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** The estimate's two largest parts, for an error message. */
export function describeCost(e: CostEstimate): string {
  return e.terms
    .slice(0, 2)
    .map((t) => `${t.name} ${formatBytes(t.bytes)} = ${t.formula}`)
    .join('; ');
}

/**
 * Why a job of this estimate can never start under JOB_MEMORY_BUDGET_MB (`budgetMb`), or undefined
 * when it fits: the one wording for a refused request and for a queued job failed at its claim.
 */
export function overJobBudget(cost: CostEstimate, budgetMb: number): string | undefined {
  if (cost.bytes <= budgetMb * MiB) return undefined;
  return `the job needs an estimated ${formatBytes(cost.bytes)} (${describeCost(cost)}), over the job memory budget of ${budgetMb} MiB (JOB_MEMORY_BUDGET_MB)`;
}

// ---- replies and the model cache ------------------------------------------------

/** The longest text of one float32 value in a JSON reply (src/http/float32-json.ts MAX_VALUE_BYTES). */
export const JSON_FLOAT32_BYTES = 25;
/** The longest JSON.stringify text of a float64 value ("-2.2250738585072014e-308") plus its comma. */
export const JSON_FLOAT64_BYTES = 25;

export type EmbedFormat = 'json' | 'base64' | 'binary';

/**
 * /embed's reply: rows × k values. binary: 4 bytes a value; base64: 4·⌈4k/3⌉ characters plus
 * quotes and a comma a row; JSON numbers: at most 25 characters a value plus brackets a row.
 * Envelope (model id, dimension) included.
 */
export function embedReplyBytes(rows: number, k: number, format: EmbedFormat): number {
  const envelope = 128;
  if (format === 'binary') return rows * k * 4;
  if (format === 'base64') return rows * (4 * Math.ceil((4 * k) / 3) + 3) + envelope;
  return rows * (k * JSON_FLOAT32_BYTES + 2) + envelope;
}

/** /distances' reply: na × nb float64 numbers as JSON text, at most 25 characters each plus row brackets. */
export function distancesReplyBytes(na: number, nb: number): number {
  return na * (nb * JSON_FLOAT64_BYTES + 2) + 128;
}

/** GET /models/:id/weights: k rows of d float64 numbers as JSON text. */
export function weightsReplyBytes(k: number, d: number): number {
  return k * (d * JSON_FLOAT64_BYTES + 2) + 128;
}

/** A loaded model in the cache: W as float64 (k·d·8) plus the kernels' packed float32 panels (ceil8(k)·ceil8(d)·4). */
export function modelCacheBytes(k: number, d: number): number {
  return k * d * 8 + ceil8(k) * ceil8(d) * 4;
}

// ---- gallery indexes ------------------------------------------------------------

/** hnswlib's fixed allocation: 65,536 label locks (std::mutex, 40 bytes) and the first visited list's header. */
const HNSW_FIXED_BYTES = 65_536 * 40 + 4096;

/**
 * An HNSW index (src/search/hnsw-index.ts, hnswlib 0.8) of `capacity` slots of k float32 values,
 * from its allocations: per slot the layer-0 record (the row k·4, 2M links of 4 bytes and their count,
 * the 8-byte label), its level, its upper-layer pointer, its link lock (std::mutex, 40 bytes), a
 * visited-list mark (2 bytes), the label map entry (~64 bytes with malloc's overhead) and this
 * module's two Sets (~48 bytes); plus the upper layers: a node reaches layer l with probability
 * M^−l, so (4M + 4 + 16)/(M − 1) bytes a slot on average. Slots of removed items stay allocated.
 */
export function hnswIndexCost(capacity: number, k: number, M: number): CostEstimate {
  const perSlot = k * 4 + 2 * M * 4 + 4 + 8;
  const bookkeeping = 4 + 8 + 40 + 2 + 64 + 48;
  return estimate([
    { name: 'layer 0', formula: `capacity·(k·4 + 2M·4 + 12) = ${capacity}·${perSlot}`, bytes: capacity * perSlot },
    { name: 'slot bookkeeping', formula: `capacity·${bookkeeping}`, bytes: capacity * bookkeeping },
    {
      name: 'upper layers',
      formula: 'capacity·(4M + 20)/(M − 1)',
      bytes: Math.ceil((capacity * (4 * M + 20)) / Math.max(1, M - 1)),
    },
    { name: 'fixed', formula: '65,536 label locks·40 + 4 KiB', bytes: HNSW_FIXED_BYTES },
  ]);
}

// ---- galleries (docs/decisions/0031-galleries.md) ----------------------------------

/** Bytes JavaScript holds per cached item beside its vectors: the id string and array slots, the label. */
export const GALLERY_ITEM_OVERHEAD_BYTES = 64;

/**
 * Bytes of one gallery in the search cache: the embeddings as read (n·k·4), the kernels' resident
 * copy in 8×8 panels (ceil8(n)·ceil8(k)·4), squared and inverse norms (16n), and per item its id
 * and string label (2 bytes a UTF-16 unit, `textUnits` in all) plus GALLERY_ITEM_OVERHEAD_BYTES.
 */
export function galleryCacheBytes(n: number, k: number, textUnits: number): number {
  return n * k * 4 + ceil8(n) * ceil8(k) * 4 + 16 * n + 2 * textUnits + GALLERY_ITEM_OVERHEAD_BYTES * n;
}

/**
 * Bytes of a search reply as JSON, at most: per hit the longest id's and label's JSON in the gallery
 * (UTF-8 bytes),
 * a float64 distance and the keys and punctuation (32); per query its brackets; the envelope (256).
 */
export function searchReplyBytes(queries: number, hits: number, maxIdJson: number, maxLabelJson: number): number {
  return queries * hits * (maxIdJson + maxLabelJson + JSON_FLOAT64_BYTES + 32) + queries * 8 + 256;
}

/** Largest bytes of a gallery upload's items held between the body and the store: features and embeddings. */
export function galleryBatchBytes(n: number, d: number, k: number): number {
  return n * (d + k) * 4;
}
