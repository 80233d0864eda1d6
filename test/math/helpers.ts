import { fileURLToPath } from 'node:url';
// Shared test helpers (not a test file: tap only runs *.test.ts).
import { readFileSync } from 'node:fs';
import { createRng } from '../../src/math/rng.js';
import type { TripletSet } from '../../src/math/types.js';
import { DEFAULT_MINED_PARAMS, type MinedTrainParams } from '../../src/math/mining/index.js';

// ../shared beside the checkout, wherever the checkout is (CI clones it elsewhere).
export const SHARED = fileURLToPath(new URL('../../../shared', import.meta.url));

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function flat64(rows: number[][]): Float64Array {
  const out = new Float64Array(rows.length * (rows[0]?.length ?? 0));
  let o = 0;
  for (const row of rows) for (const v of row) out[o++] = v;
  return out;
}

/** |a−b| ≤ rel·|b| + abs, element by element; returns the first failing index or -1. */
export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, abs: number): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= rel * Math.abs(b[i]) + abs)) return i;
  }
  return -1;
}

export function close(a: number, b: number, rel: number, abs = 0): boolean {
  return Math.abs(a - b) <= rel * Math.abs(b) + abs;
}

/** Random triplet set with values from rng in [-1, 1), float32 storage. */
export function randomSet(rng: { range(lo: number, hi: number): number }, m: number, d: number): TripletSet {
  const mk = () => {
    const a = new Float32Array(m * d);
    for (let i = 0; i < a.length; i++) a[i] = rng.range(-1, 1);
    return a;
  };
  return { m, d, anchors: mk(), positives: mk(), negatives: mk() };
}

/**
 * A random set where most triplets are inactive with room to spare, for the negatives' early
 * exit: positives near their anchors (a + 0.1·p), negatives far (3·n), except the rows `hard`
 * picks, whose negatives sit near (a + 0.05·n).
 */
export function settledSet(
  rng: { range(lo: number, hi: number): number },
  m: number,
  d: number,
  hard: (row: number) => boolean = () => false,
): TripletSet {
  const set = randomSet(rng, m, d);
  for (let i = 0; i < m * d; i++) {
    set.positives[i] = set.anchors[i] + 0.1 * (set.positives[i] as number);
    if (hard(Math.floor(i / d))) set.negatives[i] = set.anchors[i] + 0.05 * (set.negatives[i] as number);
    else set.negatives[i] = 3 * (set.negatives[i] as number);
  }
  return set;
}

/** max |a−b| over max |b|: an error relative to the scale of b (a gradient's, say) */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return s === 0 ? e : e / s;
}

/**
 * Labelled samples told apart by length alone: every row points nearly the same way (the first
 * axis, 0.6 on the others), label y at radius 1 + spacing·y, with direction noise `noise` (relative).
 */
export function labelsByLength(labels: number, d: number, per: number, noise: number, seed: number, spacing = 1) {
  const rng = createRng(seed);
  const n = labels * per;
  const y = Int32Array.from({ length: n }, (_, i) => i % labels);
  const X = Float64Array.from({ length: n * d }, (_, i) => {
    const r = 1 + spacing * y[Math.floor(i / d)];
    return r * ((i % d === 0 ? 1 : 0.6) + noise * rng.normal());
  });
  return { d, n, X, labels: y };
}

/**
 * Mined params for the small held-out-label runs of the validation tests: k 3 from the identity, P×K
 * batches of 4×4, 60 steps validated every 10 on 30% of the labels, no pull towards the start.
 */
export const heldOutLabelParams = (over: Partial<MinedTrainParams>): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  outputDimension: 3,
  init: 'identity',
  batchSize: 16,
  samplesPerLabel: 4,
  maxIterations: 60,
  evaluationInterval: 10,
  validationFraction: 0.3,
  validationSplit: 'labels',
  startPull: 0,
  normalize: false,
  seed: 1,
  ...over,
});
