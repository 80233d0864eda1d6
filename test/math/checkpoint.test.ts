// Checkpoint/resume: a run resumed from a checkpoint at any iteration boundary finishes exactly
// as the uninterrupted run (W, iterations, stop reason, losses bit for bit), also after
// structuredClone; checkpoints of another run are refused with a RangeError naming the mismatch.
import t, { type Test } from 'tap';
import type { TrainCheckpoint } from '../../src/math/checkpoint.js';
import { createCompute } from '../../src/compute/index.js';
import { DEFAULT_MINED_PARAMS, DEFAULT_TRAIN_PARAMS } from '../../src/math/defaults.js';
import { jsKernels } from '../../src/math/kernels/js.js';
import type { MinedCheckpoint } from '../../src/math/mining/checkpoint.js';
import { trainMined } from '../../src/math/mining/train-mined.js';
import { normalizeTrialSteps } from '../../src/math/mining/normalize-choice.js';
import type { LabelledSamples, MinedTrainParams } from '../../src/math/mining/types.js';
import { wasmSimdSupported } from '../../src/math/kernels/simd.js';
import { createPKSampler } from '../../src/math/mining/sampler.js';
import { createAdam } from '../../src/math/optim/adam.js';
import { minimizeCg } from '../../src/math/optim/cg.js';
import { minimizeLbfgs } from '../../src/math/optim/lbfgs.js';
import type { DescentState } from '../../src/math/optim/types.js';
import { createEarlyStopping } from '../../src/math/training/early-stopping.js';
import type { Kernels } from '../../src/math/kernels/types.js';
import { createRng } from '../../src/math/rng.js';
import { train } from '../../src/math/train.js';
import type { TrainParams, TrainResult, TripletSet } from '../../src/math/types.js';
import { randomSet } from './helpers.js';

/** Positives near their anchors: the loss falls well below its start and the runs stop for several reasons. */
function tripletSet(seed: number, m: number, d: number): TripletSet {
  const set = randomSet(createRng(seed), m, d);
  for (let i = 0; i < m * d; i++) set.positives[i] = set.anchors[i] + 0.5 * (set.positives[i] as number);
  return set;
}

const trainParams = (over: Partial<TrainParams> = {}): TrainParams => ({
  ...DEFAULT_TRAIN_PARAMS,
  outputDimension: 4,
  maxIterations: 60,
  seed: 3,
  ...over,
});

/** Everything of a result that must not depend on where the run was interrupted. */
function sameResult(t: Test, got: TrainResult, want: TrainResult, label: string): void {
  t.same(Array.from(got.W), Array.from(want.W), `${label}: W bit for bit`);
  t.same(got.metrics, want.metrics, `${label}: metrics (iterations, stop reason, losses, warnings)`);
}

/** Boundaries to resume from: 0, 1, 2, the middle, the last two. */
function picks(last: number): number[] {
  return [...new Set([0, 1, 2, Math.floor(last / 2), last - 1, last])].filter((j) => j >= 0 && j <= last);
}

const hard = (seed: number, m: number, d: number): TripletSet => randomSet(createRng(seed), m, d);

/** The set in other units: the optimiser moves σ·W there (src/math/training/scale.ts), checkpoints too. */
function scaled(set: TripletSet, c: number): TripletSet {
  const times = (A: TripletSet['anchors']) => Float64Array.from(A, (v) => v * c);
  return { ...set, anchors: times(set.anchors), positives: times(set.positives), negatives: times(set.negatives) };
}

const trainConfigs: { name: string; set: TripletSet; p: TrainParams }[] = [
  { name: 'lbfgs pca', set: hard(1, 300, 12), p: trainParams() },
  // history 3: the ring wraps many times, and pairs skipped while it is full overwrite its oldest slot
  {
    name: 'lbfgs uniform normalize h=3',
    set: hard(2, 200, 10),
    p: trainParams({ init: 'uniform', normalize: true, historySize: 3, maxIterations: 150 }),
  },
  { name: 'lbfgs weight decay', set: hard(3, 150, 6), p: trainParams({ weightDecay: 1e-2, maxIterations: 400 }) },
  { name: 'lbfgs zero loss', set: tripletSet(6, 150, 6), p: trainParams() },
  { name: 'cg pca', set: hard(4, 300, 12), p: trainParams({ optimizer: 'cg' }) },
  {
    name: 'cg uniform normalize',
    set: hard(5, 200, 10),
    p: trainParams({ optimizer: 'cg', init: 'uniform', normalize: true, maxIterations: 120 }),
  },
  { name: 'cg zero loss', set: tripletSet(7, 150, 6), p: trainParams({ optimizer: 'cg' }) },
  { name: 'lbfgs features ×1e-20', set: scaled(hard(8, 200, 8), 1e-20), p: trainParams() },
  {
    name: 'cg plain features ×1e20',
    set: scaled(hard(9, 200, 8), 1e20),
    p: trainParams({ optimizer: 'cg', preconditioner: 'none' }),
  },
];

function checkTrainResume(t: Test, kernels: Kernels | undefined): void {
  for (const { name, set, p } of trainConfigs) {
    const ref = train(set, p, {}, kernels);
    const cps: TrainCheckpoint[] = [];
    const withHook = train(set, p, { onCheckpoint: (c) => cps.push(c) }, kernels);
    sameResult(t, withHook, ref, `${name}: taking checkpoints changes nothing`);
    t.equal(
      cps.length,
      ref.metrics.iterations + (ref.metrics.stopReason === 'no_progress' ? 0 : 1),
      `${name}: one per boundary`,
    );
    t.same(
      cps.map((c) => c.iteration),
      cps.map((_, i) => i),
      `${name}: iterations 0, 1, 2, …`,
    );
    for (const j of picks(cps.length - 1)) {
      const c = cps[j];
      sameResult(t, train(set, p, { resumeFrom: c }, kernels), ref, `${name}: resumed at ${j}`);
      sameResult(
        t,
        train(set, p, { resumeFrom: structuredClone(c) }, kernels),
        ref,
        `${name}: cloned, resumed at ${j}`,
      );
    }
    t.comment(`${name}: ${ref.metrics.iterations} iterations, ${ref.metrics.stopReason}`);
  }
}

t.test('train: resuming at any boundary finishes bit for bit as the uninterrupted run (js)', (t) => {
  checkTrainResume(t, undefined);
  t.end();
});

t.test('train: a checkpoint without a scale (written before it) resumes with σ = 1', (t) => {
  const set = hard(1, 100, 6);
  const p = trainParams({ maxIterations: 20 });
  const ref = train(set, p);
  const cps: TrainCheckpoint[] = [];
  train(set, p, { onCheckpoint: (c) => cps.push(c) });
  t.equal(cps[3].scale, 1, 'features of unit scale: σ = 1');
  const { scale: _scale, ...older } = cps[3];
  sameResult(t, train(set, p, { resumeFrom: older }), ref, 'resumed from a checkpoint without the field');
  t.end();
});

t.test('train: checkpointEvery, checkpointDue, and a resumed run keeps checkpointing', (t) => {
  const { set, p } = trainConfigs[0];
  const every: number[] = [];
  train(set, p, { onCheckpoint: (c) => every.push(c.iteration), checkpointEvery: 7 });
  t.same(
    every,
    every.map((_, i) => 7 * i),
    'every 7 iterations from 0',
  );
  const due: number[] = [];
  train(set, p, { onCheckpoint: (c) => due.push(c.iteration), checkpointDue: (i) => i === 5 || i === 9 });
  t.same(due, [5, 9], 'the caller decides');
  const all: TrainCheckpoint[] = [];
  const ref = train(set, p, { onCheckpoint: (c) => all.push(c) });
  const later: number[] = [];
  train(set, p, { resumeFrom: all[10], onCheckpoint: (c) => later.push(c.iteration), checkpointEvery: 10 });
  const expected = all.map((c) => c.iteration).filter((i) => i > 10 && i % 10 === 0);
  t.ok(expected.length >= 2, `${expected.length} checkpoints expected after resuming at 10`);
  t.same(later, expected, 'the resumed run checkpoints on the same boundaries, not again at 10');
  t.equal(ref.metrics.iterations, all[all.length - 1].iteration + (ref.metrics.stopReason === 'no_progress' ? 1 : 0));
  t.throws(() => train(set, p, { onCheckpoint: () => {}, checkpointEvery: 0 }), RangeError);
  t.end();
});

t.test('train: a checkpoint of another run is refused, naming the mismatch', (t) => {
  const { set, p } = trainConfigs[0];
  let c: TrainCheckpoint | undefined;
  train(set, p, { onCheckpoint: (x) => (c = x), checkpointDue: (i) => i === 3 });
  const cp = c as TrainCheckpoint;
  const refuse = (over: Partial<TrainParams>, re: RegExp, s: TripletSet = set) =>
    t.throws(() => train(s, { ...p, ...over }, { resumeFrom: cp }), re, `refused: ${re}`);
  refuse({ outputDimension: 5 }, /RangeError|outputDimension is 4 in the checkpoint, 5 now/);
  refuse({ optimizer: 'cg' }, /optimizer is 'lbfgs' in the checkpoint, 'cg' now/);
  refuse({ seed: 4 }, /seed is 3 in the checkpoint, 4 now/);
  refuse({ historySize: 5 }, /historySize is 10 in the checkpoint, 5 now/);
  refuse({}, /d is 12 in the checkpoint, 10 now/, tripletSet(1, 300, 10));
  refuse({}, /m is 300 in the checkpoint, 200 now/, tripletSet(1, 200, 12));
  t.throws(() => train(set, p, { resumeFrom: { ...cp, kind: 'mined' as 'train' } }), /kind is 'mined'/);
  t.throws(() => train(set, p, { resumeFrom: { ...cp, version: 99 } }), /version is 99/);
  t.throws(() => train(set, p, { resumeFrom: { ...cp, x: new Float64Array(3) } }), RangeError);
  t.throws(
    () => train(set, p, { resumeFrom: { ...cp, direction: { ...cp.direction, kind: 'cg' } as never } }),
    /optimizer is cg/,
  );
  t.end();
});

t.test(
  'train: resuming with the WebAssembly kernels',
  { skip: !wasmSimdSupported() && 'no WebAssembly SIMD' },
  async (t) => {
    for (const threads of [1, 2]) {
      const c = await createCompute({ kernels: 'wasm', threads });
      try {
        checkTrainResume(t, c.kernels);
      } finally {
        await c.close();
      }
    }
  },
);

t.test('Rng: setState continues the exact sequence, Box–Muller spare included', (t) => {
  const a = createRng(9);
  a.normal();
  const s = a.getState();
  t.ok(s.hasSpare, 'a spare normal is cached');
  const want = [a.normal(), a.uniform(), a.int(1000), a.normal()];
  const b = createRng(1);
  b.setState(structuredClone(s));
  t.same([b.normal(), b.uniform(), b.int(1000), b.normal()], want);
  t.throws(() => b.setState({ ...s, state: -1 }), RangeError);
  t.end();
});

/** c Gaussian clusters in d dims, per samples each (as mining.test.ts). */
function clusters(c: number, per: number, d: number, seed: number, spread = 2): LabelledSamples {
  const rng = createRng(seed);
  const centres = new Float64Array(c * d);
  for (let i = 0; i < centres.length; i++) centres[i] = 2.5 * rng.normal();
  const n = c * per;
  const X = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % c;
    labels[i] = y * 3 + 1;
    for (let j = 0; j < d; j++) X[i * d + j] = centres[y * d + j] + spread * rng.normal();
  }
  return { n, d, X, labels };
}

/** The samples in other units. */
function scaledSamples(s: LabelledSamples, c: number): LabelledSamples {
  return { ...s, X: Float32Array.from(s.X, (v) => v * c) };
}

/** c labels told apart by length along one shared direction (normalize auto chooses plain embeddings). */
function radial(c: number, per: number, d: number, seed: number): LabelledSamples {
  const rng = createRng(seed);
  const n = c * per;
  const labels = Int32Array.from({ length: n }, (_, i) => i % c);
  const X = Float32Array.from({ length: n * d }, (_, i) => (1 + labels[Math.floor(i / d)]) * (1 + 0.05 * rng.normal()));
  return { n, d, X, labels };
}

/** c labels told apart by direction, each sample at a random length from 0.3 to 3 (auto chooses unit norm). */
function angular(c: number, per: number, d: number, seed: number): LabelledSamples {
  const rng = createRng(seed);
  const dirs = Float64Array.from({ length: c * d }, () => rng.normal());
  const n = c * per;
  const labels = Int32Array.from({ length: n }, (_, i) => i % c);
  const X = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const len = 0.3 + 2.7 * rng.uniform();
    for (let j = 0; j < d; j++) X[i * d + j] = len * (dirs[labels[i] * d + j] + 0.1 * rng.normal());
  }
  return { n, d, X, labels };
}

const minedParams = (over: Partial<MinedTrainParams> = {}): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  // unit norm unless a config asks for auto: the normalised batch loss and directional pull resume too
  normalize: true,
  outputDimension: 4,
  maxIterations: 120,
  evaluationInterval: 10,
  seed: 5,
  ...over,
});

const minedConfigs: { name: string; data: LabelledSamples; p: MinedTrainParams }[] = [
  // validation on whole labels, early stopping counted from the start: stops early
  {
    name: 'labels split, early stop',
    data: clusters(30, 10, 8, 4),
    p: minedParams({ maxIterations: 400, learningRate: 1e-4, patience: 3, earlyStoppingStart: 0 }),
  },
  // a high rate: the kept W is an early one, patience counts from the start
  {
    name: 'labels split, early best W',
    data: clusters(30, 12, 10, 3),
    p: minedParams({ learningRate: 0.1, earlyStoppingStart: 0, patience: 4, mining: 'batchhard' }),
  },
  // few labels: held-out samples; P×K larger than the label count and epochs wrap
  {
    name: 'samples split',
    data: clusters(6, 20, 8, 7),
    p: minedParams({ validationFraction: 0.2, batchSize: 24, samplesPerLabel: 4, evaluationInterval: 7 }),
  },
  {
    name: 'no validation',
    data: clusters(8, 20, 12, 9),
    p: minedParams({ validationFraction: 0, mining: 'semihard', loss: 'softplus', weightDecay: 1e-3 }),
  },
  // normalize auto chooses plain embeddings here: a resumed run must choose them again
  {
    name: 'auto chooses plain',
    data: radial(8, 12, 6, 4),
    p: minedParams({ normalize: 'auto', validationFraction: 0.2, validationSplit: 'labels' }),
  },
  // and unit norm here (the labels differ in direction; lengths are noise), by the start: validation holds out samples
  {
    name: 'auto chooses unit',
    data: angular(12, 10, 6, 6),
    p: minedParams({ normalize: 'auto', validationFraction: 0.2 }),
  },
  // and without validation, by the start's evidence (no trial): checkpoints from step 0
  {
    name: 'auto by the start',
    data: radial(8, 12, 6, 4),
    p: minedParams({ normalize: 'auto', validationFraction: 0 }),
  },
  // features in far units: Adam moves σ·W (src/math/training/scale.ts), its checkpoints too
  {
    name: 'features ×1e-20, auto with its trial',
    data: scaledSamples(clusters(12, 10, 6, 12), 1e-20),
    p: minedParams({ normalize: 'auto', validationFraction: 0.3, validationSplit: 'labels' }),
  },
  {
    name: 'plain features ×1e20',
    data: scaledSamples(clusters(10, 10, 6, 13), 1e20),
    p: minedParams({ normalize: false }),
  },
];

function checkMinedResume(t: Test, kernels: Kernels): void {
  for (const { name, data, p } of minedConfigs) {
    const ref = trainMined(data, p, {}, kernels);
    const cps: MinedCheckpoint[] = [];
    const withHook = trainMined(data, p, { onCheckpoint: (c) => cps.push(c) }, kernels);
    sameResult(t, withHook, ref, `${name}: taking checkpoints changes nothing`);
    const last = cps.length - 1;
    // normalize auto with validation on held-out labels takes no checkpoint inside its trial: a resume never lands in it
    const trial = p.normalize === 'auto' && ref.metrics.validationSplit === 'labels';
    const first = trial ? normalizeTrialSteps(p.maxIterations, p.evaluationInterval) : 0;
    t.same(
      cps.map((c) => c.iteration),
      cps.map((_, i) => first + i),
      `${name}: iterations ${first}, ${first + 1}, …`,
    );
    t.equal(
      cps[last].iteration,
      ref.metrics.iterations - (ref.metrics.earlyStopped ? 1 : 0),
      `${name}: up to the last boundary`,
    );
    for (const j of picks(last)) {
      const c = cps[j];
      sameResult(t, trainMined(data, p, { resumeFrom: c }, kernels), ref, `${name}: resumed at ${j}`);
      sameResult(t, trainMined(data, p, { resumeFrom: structuredClone(c) }, kernels), ref, `${name}: cloned, at ${j}`);
    }
    if (name.startsWith('auto'))
      t.equal(ref.metrics.normalized, name.endsWith('unit'), `${name}: normalized ${ref.metrics.normalized}`);
    if (name.startsWith('auto'))
      t.equal(
        ref.metrics.normalizeEvidence?.by,
        trial ? 'validation' : 'start',
        `${name}: chosen by the trial or the start`,
      );
    if (name.includes('early best')) t.ok(ref.metrics.bestIteration < ref.metrics.iterations, 'kept W ≠ last W');
    t.comment(`${name}: ${ref.metrics.iterations} steps, ${ref.metrics.stopReason}, best ${ref.metrics.bestIteration}`);
  }
}

t.test('trainMined: resuming at any boundary finishes bit for bit as the uninterrupted run (js)', (t) => {
  checkMinedResume(t, jsKernels);
  t.end();
});

t.test('trainMined: a resumed auto run keeps the checkpoint’s choice rather than choosing again', (t) => {
  const { data, p } = minedConfigs.find((c) => c.name === 'auto chooses plain')!;
  const cps: MinedCheckpoint[] = [];
  const ref = trainMined(data, p, { onCheckpoint: (c) => cps.push(c) });
  const c = structuredClone(cps[3]);
  t.match(c.normalizeChoice, { normalize: false, by: 'validation' }, 'the checkpoint holds the trial’s choice');
  c.normalizeChoice = { ...c.normalizeChoice!, normalize: true };
  const later: MinedCheckpoint[] = [];
  const flipped = trainMined(data, p, { resumeFrom: c, onCheckpoint: (x) => later.push(x) });
  t.ok(
    later.length > 0 && later.every((x) => x.normalizeChoice?.normalize === true),
    'the kept choice wins over the recomputed one: the run trains on with unit norm',
  );
  t.notSame(flipped.W, ref.W);
  t.ok(flipped.metrics.bestIteration > 0, `a trained W is kept (step ${flipped.metrics.bestIteration})`);
  t.equal(flipped.metrics.normalized, true, 'and embeds with unit norm, as the kept choice says');
  t.same(flipped.metrics.normalizeEvidence, ref.metrics.normalizeEvidence, 'and reports the kept evidence');
  // checkpoints written before the trial (0063) kept the start's choice, without `by`; before 0061, without z
  const start = { normalize: false, by: 'start', plain: 0.9, unit: 0.6, queries: 80, z: 3.1 } as const;
  for (const drop of [['by'], ['by', 'z']] as const) {
    const before = structuredClone(cps[3]);
    const kept: Partial<typeof start> = { ...start };
    for (const key of drop) delete kept[key];
    before.normalizeChoice = kept as typeof start;
    const resumed = trainMined(data, p, { resumeFrom: before });
    t.same(Array.from(resumed.W), Array.from(ref.W), `a start choice kept without ${drop.join(', ')}: the same W`);
    const reported = drop.length === 1 ? { plain: 0.9, unit: 0.6, z: 3.1 } : { plain: 0.9, unit: 0.6 };
    t.same(resumed.metrics.normalizeEvidence, reported, 'it reports what the checkpoint kept');
  }
  const older = structuredClone(cps[3]);
  delete older.normalizeChoice;
  const again = trainMined(data, p, { resumeFrom: older });
  t.same(
    Array.from(again.W),
    Array.from(ref.W),
    'a checkpoint without a choice chooses again (by the start), the same W',
  );
  t.equal(again.metrics.normalizeEvidence?.by, 'start');
  t.end();
});

t.test('trainMined: a resumed run keeps the checkpoint’s learning rate; an older checkpoint recomputes it', (t) => {
  const { data, p } = minedConfigs.find((x) => x.p.learningRate === 'auto')!;
  const cps: MinedCheckpoint[] = [];
  const ref = trainMined(data, p, { onCheckpoint: (c) => cps.push(c) });
  const c = structuredClone(cps[2]);
  t.equal(c.learningRate, ref.metrics.learningRate, 'the checkpoint holds the rate that ran');
  c.learningRate = 2 * c.learningRate!;
  const doubled = trainMined(data, p, { resumeFrom: c });
  t.equal(doubled.metrics.learningRate, c.learningRate, 'the kept rate wins over the recomputed one');
  t.notSame(doubled.W, ref.W);
  const older = structuredClone(cps[2]);
  delete older.learningRate;
  sameResult(t, trainMined(data, p, { resumeFrom: older }), ref, 'a checkpoint without it recomputes the same');
  t.end();
});

t.test('trainMined: checkpoints hold σ; one without it (written before it) resumes with σ = 1', (t) => {
  const { data, p } = minedConfigs.find((x) => x.name === 'samples split')!;
  const cps: MinedCheckpoint[] = [];
  const ref = trainMined(data, p, { onCheckpoint: (c) => cps.push(c) });
  t.equal(cps[3].scale, 1, 'features of unit scale: σ = 1');
  const older = structuredClone(cps[3]);
  delete older.scale;
  sameResult(t, trainMined(data, p, { resumeFrom: older }), ref, 'resumed from a checkpoint without the field');
  const far = minedConfigs.find((x) => x.name.startsWith('plain features'))!;
  const farCps: MinedCheckpoint[] = [];
  trainMined(far.data, far.p, { onCheckpoint: (c) => farCps.push(c) });
  t.ok(
    farCps.every((c) => c.scale === 2 ** 61),
    `features ×1e20 (an RMS difference of about 2^69): σ = 2^61`,
  );
  t.end();
});

t.test('trainMined: a resumed run checkpoints on the same boundaries; cancellation after resuming', (t) => {
  const { data, p } = minedConfigs[2];
  const all: MinedCheckpoint[] = [];
  trainMined(data, p, { onCheckpoint: (c) => all.push(c), checkpointEvery: 25 });
  t.same(
    all.map((c) => c.iteration),
    [0, 25, 50, 75, 100],
  );
  const later: number[] = [];
  trainMined(data, p, { resumeFrom: all[1], onCheckpoint: (c) => later.push(c.iteration), checkpointEvery: 25 });
  t.same(later, [50, 75, 100]);
  // a replica that loses its lease is cancelled; the next one resumes from the last checkpoint
  let polls = 0;
  let lastCp: MinedCheckpoint | undefined;
  const cut = trainMined(data, p, {
    onCheckpoint: (c) => (lastCp = c),
    checkpointEvery: 20,
    shouldStop: () => ++polls > 47,
  });
  t.equal(cut.metrics.stopReason, 'cancelled');
  t.equal(lastCp?.iteration, 40);
  const ref = trainMined(data, p);
  sameResult(t, trainMined(data, p, { resumeFrom: lastCp }), ref, 'resumed after a cancelled run');
  t.end();
});

t.test('trainMined: a checkpoint of another run is refused, naming the mismatch', (t) => {
  const { data, p } = minedConfigs[0];
  let c: MinedCheckpoint | undefined;
  trainMined(data, p, { onCheckpoint: (x) => (c = x), checkpointDue: (i) => i === 3 });
  const cp = c as MinedCheckpoint;
  const refuse = (over: Partial<MinedTrainParams>, re: RegExp, s: LabelledSamples = data) =>
    t.throws(() => trainMined(s, { ...p, ...over }, { resumeFrom: cp }), re, `refused: ${re}`);
  refuse({ outputDimension: 5 }, /outputDimension is 4 in the checkpoint, 5 now/);
  refuse({ seed: 6 }, /seed is 5 in the checkpoint, 6 now/);
  refuse({ learningRate: 1e-3 }, /learningRate is 0.0001 in the checkpoint, 0.001 now/);
  refuse({}, /n is 300 in the checkpoint, 310 now/, clusters(31, 10, 8, 4));
  refuse({}, /d is 8 in the checkpoint, 9 now/, clusters(30, 10, 9, 4));
  let tc: TrainCheckpoint | undefined;
  train(trainConfigs[0].set, trainConfigs[0].p, { onCheckpoint: (x) => (tc = x), checkpointDue: (i) => i === 1 });
  t.throws(() => trainMined(data, p, { resumeFrom: tc as unknown as MinedCheckpoint }), /kind is 'train'/);
  t.throws(() => trainMined(data, p, { resumeFrom: { ...cp, earlyStopping: null } }), /validation is off/);
  t.throws(() => trainMined(data, p, { resumeFrom: { ...cp, W: new Float64Array(3) } }), /W needs 32 values/);
  t.end();
});

t.test(
  'trainMined: resuming with the WebAssembly kernels',
  { skip: !wasmSimdSupported() && 'no WebAssembly SIMD' },
  async (t) => {
    const c = await createCompute({ kernels: 'wasm', threads: 2 });
    try {
      checkMinedResume(t, c.kernels);
    } finally {
      await c.close();
    }
  },
);

t.test(
  'train: a checkpoint from 1 WebAssembly thread resumes bit for bit on 2',
  { skip: !wasmSimdSupported() && 'no WebAssembly SIMD' },
  async (t) => {
    const one = await createCompute({ kernels: 'wasm', threads: 1 });
    const two = await createCompute({ kernels: 'wasm', threads: 2 });
    try {
      for (const { name, set, p } of trainConfigs.slice(0, 2)) {
        const cps: TrainCheckpoint[] = [];
        const ref = train(set, p, { onCheckpoint: (c) => cps.push(c), checkpointEvery: 20 }, one.kernels);
        sameResult(t, train(set, p, { resumeFrom: cps[1] }, two.kernels), ref, `${name}: 1 thread → 2 threads`);
      }
    } finally {
      await one.close();
      await two.close();
    }
  },
);

/** Bytes of the typed arrays in a checkpoint (the rest is a few hundred bytes of numbers and params). */
function arrayBytes(v: unknown): number {
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (v === null || typeof v !== 'object') return 0;
  return Object.values(v).reduce((s: number, x) => s + arrayBytes(x), 0);
}

t.test('checkpoint sizes follow the formulas of docs/decisions/0020', (t) => {
  const { set, p } = trainConfigs[1]; // h = 3, 150 iterations: the memory is full at the end
  const kd = p.outputDimension * set.d;
  let last: TrainCheckpoint | undefined;
  train(set, p, { onCheckpoint: (c) => (last = c) });
  const c = last as TrainCheckpoint;
  t.equal(c.direction.kind === 'lbfgs' && c.direction.count, 3, 'memory full');
  t.equal(arrayBytes(c), 8 * kd * (2 + 2 * 3) + 8 * 3 + 8 * 6, 'L-BFGS: 8·kd·(2 + 2c) + 8c + 48');
  const cg = trainConfigs[4];
  let lastCg: TrainCheckpoint | undefined;
  train(cg.set, cg.p, { onCheckpoint: (x) => (lastCg = x) });
  t.equal(arrayBytes(lastCg), 8 * 3 * cg.p.outputDimension * cg.set.d + 48, 'CG: 24·kd + 48');
  for (const { name, data, p: mp } of minedConfigs) {
    let m: MinedCheckpoint | undefined;
    const r = trainMined(data, mp, { onCheckpoint: (x) => (m = x) });
    const mkd = mp.outputDimension * data.d;
    const validating = r.metrics.validationSplit !== 'none';
    const want = 8 * mkd * (validating ? 4 : 3) + 4 * (r.metrics.trainSamples + r.metrics.trainLabels);
    t.equal(arrayBytes(m), want, `${name}: 8·kd·(3 + validating) + 4·(train samples + train labels)`);
  }
  t.end();
});

t.test('the parts refuse state of another size or kind', (t) => {
  const fg = (x: Float64Array, g: Float64Array): number => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      f += (x[i] - i) ** 2;
      g[i] = 2 * (x[i] - i);
    }
    return f;
  };
  const x0 = new Float64Array(4);
  const states: DescentState[] = [];
  minimizeLbfgs(fg, x0, { maxIterations: 3, gradientTolerance: 0, onCheckpoint: (s) => states.push(s) });
  const s = states[1];
  const opts = { maxIterations: 3, gradientTolerance: 0 };
  t.throws(() => minimizeLbfgs(fg, x0, { ...opts, resumeFrom: s, noProgressWindow: 2 }), /no-progress window/);
  t.throws(() => minimizeLbfgs(fg, new Float64Array(5), { ...opts, resumeFrom: s }), /x and g need 5 values/);
  t.throws(() => minimizeLbfgs(fg, x0, { ...opts, resumeFrom: s, historySize: 4 }), /historySize is 10, not 4/);
  const bad = { ...s, direction: { ...s.direction, count: 2 } } as DescentState;
  t.throws(() => minimizeLbfgs(fg, x0, { ...opts, resumeFrom: bad }), /does not hold 2 pairs/);
  t.throws(() => minimizeCg(fg, x0, { ...opts, resumeFrom: s }), /optimizer is lbfgs, not cg/);
  const cgStates: DescentState[] = [];
  minimizeCg(fg, x0, { ...opts, onCheckpoint: (c) => cgStates.push(c) });
  const cgBad = {
    ...cgStates[1],
    direction: { ...cgStates[1].direction, prevDir: new Float64Array(2) },
  } as DescentState;
  t.throws(() => minimizeCg(fg, x0, { ...opts, resumeFrom: cgBad }), /CG direction needs 4 values/);

  const adam = createAdam(4, { learningRate: 0.1 });
  t.throws(() => adam.restore({ ...adam.snapshot(), m: new Float64Array(3) }), /Adam moments need 4/);
  t.throws(() => adam.restore({ ...adam.snapshot(), t: -1 }), /Adam step is -1/);
  const sampler = createPKSampler(Int32Array.from([1, 1, 2, 2, 3, 3]), null, 2, 2, 1);
  t.throws(() => sampler.restore({ ...sampler.snapshot(), cursor: 4 }), /6 rows in 3 labels/);
  const es = createEarlyStopping(
    { earlyStoppingMetric: 'mapAtR', earlyStoppingStart: 0, maxIterations: 10, patience: 1, minDelta: 0 },
    new Float64Array(4),
  );
  t.throws(() => es.restore({ ...es.snapshot(), bestW: new Float64Array(3) }), /best W needs 4 values/);
  t.end();
});
