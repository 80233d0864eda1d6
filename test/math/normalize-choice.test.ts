// normalize 'auto' (src/math/mining/normalize-choice.ts): with validation on held-out labels, a trial
// of both ways whose better validation figure goes on; otherwise unit norm unless the start's plain
// embeddings find significantly more true nearest neighbours (McNemar's continuity-corrected z ≥ 2). On hand-made data
// whose answer is known, and trainMined with it.
import t from 'tap';
import { jsKernels } from '../../src/math/kernels/js.js';
import type { Kernels } from '../../src/math/kernels/types.js';
import { DEFAULT_MINED_PARAMS, splitFor, trainMined, type MinedTrainParams } from '../../src/math/mining/index.js';
import {
  AUTO_PLAIN_Z,
  chooseNormalize,
  discordantZ,
  normalizeTrialSteps,
  trialChoice,
} from '../../src/math/mining/normalize-choice.js';
import type { MinedProgress, ValidationFigures } from '../../src/math/mining/types.js';
import { createRng } from '../../src/math/rng.js';
import { labelsByLength } from './helpers.js';

const IDENTITY3 = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Labels told apart by length alone: every row points nearly the same way, label y at radius 1 + y. */
function byLength(labels: number, per: number, seed: number) {
  return labelsByLength(labels, 3, per, 0.04, seed);
}

/** Labels told apart by direction alone, each row at a random length from 0.3 to 3. */
function byDirection(labels: number, per: number, seed: number) {
  const rng = createRng(seed);
  const n = labels * per;
  const y = Int32Array.from({ length: n }, (_, i) => i % labels);
  const X = new Float64Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * y[i]) / labels;
    const len = 0.3 + 2.7 * rng.uniform();
    X.set(
      [len * (Math.cos(a) + 0.05 * rng.normal()), len * (Math.sin(a) + 0.05 * rng.normal()), 0.05 * rng.normal()],
      i * 3,
    );
  }
  return { d: 3, n, X, labels: y };
}

/** The hand-made sets with their known answer: whether unit norm is the right choice. */
const knownAnswers = () =>
  [
    ['by length', byLength(4, 15, 1), false],
    ['by direction', byDirection(12, 10, 2), true],
  ] as const;

/** A small, fast mined run with normalize auto on the hand-made sets above. */
const small = (over: Partial<MinedTrainParams>): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  outputDimension: 3,
  init: 'identity',
  batchSize: 16,
  samplesPerLabel: 4,
  normalize: 'auto',
  // the trial needs validation on held-out labels
  validationSplit: 'labels',
  ...over,
});

t.test('length carries the label: plain; direction does: unit norm', (t) => {
  const L = byLength(4, 15, 1);
  const plain = chooseNormalize(L.X, 3, IDENTITY3, 3, L.labels);
  t.equal(plain.normalize, false, `plain ${plain.plain}, unit ${plain.unit}`);
  t.ok(plain.plain > 0.95 && plain.unit < 0.6, 'unit norm folds the radii together');
  t.equal(plain.queries, 60);
  t.ok(plain.z! >= AUTO_PLAIN_Z, `z ${plain.z}`);
  const D = byDirection(12, 10, 2);
  const unit = chooseNormalize(D.X, 3, IDENTITY3, 3, D.labels);
  t.equal(unit.normalize, true, `plain ${unit.plain}, unit ${unit.unit}`);
  t.ok(unit.unit > unit.plain, 'the random lengths mislead plain neighbours');
  t.end();
});

t.test('a tie, or no label with two rows, keeps unit norm', (t) => {
  // two far-apart tight clusters: both ways find every neighbour
  const X = Float64Array.from([5, 0, 0, 5.1, 0, 0, 0, 5, 0, 0, 5.1, 0]);
  const labels = Int32Array.from([0, 0, 1, 1]);
  t.match(chooseNormalize(X, 3, IDENTITY3, 3, labels), { normalize: true, plain: 1, unit: 1, queries: 4 });
  const single = chooseNormalize(X, 3, IDENTITY3, 3, Int32Array.from([0, 1, 2, 3]));
  t.same(single, { normalize: true, by: 'start', plain: 0, unit: 0, queries: 0, z: 0 });
  t.end();
});

t.test('plain must win beyond chance: 4 more neighbours of 8 keep unit norm, 9 of 12 do not', (t) => {
  const few = byLength(2, 4, 1);
  const small = chooseNormalize(few.X, 3, IDENTITY3, 3, few.labels);
  t.match(small, { normalize: true, plain: 1, unit: 0.5, queries: 8 }, 'a strict win by 4 queries');
  t.equal(small.z, (4 - 1) / 2, 'b 4, c 0: z = (4 − 1)/√4');
  const more = byLength(2, 6, 1);
  t.match(chooseNormalize(more.X, 3, IDENTITY3, 3, more.labels), {
    normalize: false,
    plain: 1,
    unit: 0.25,
    z: (9 - 1) / 3,
  });
  t.end();
});

t.test('discordantZ: continuity-corrected, over the queries one way finds and the other misses', (t) => {
  const a = Uint8Array.from([1, 1, 1, 1, 1, 0, 0, 1, 0]);
  const b = Uint8Array.from([1, 0, 0, 0, 0, 1, 0, 1, 0]);
  t.equal(discordantZ(a, b), (4 - 1 - 1) / Math.sqrt(5), 'b 4, c 1');
  t.equal(discordantZ(b, a), -discordantZ(a, b), 'antisymmetric');
  t.equal(discordantZ(a, a), 0, 'no discordant query');
  t.equal(discordantZ(Uint8Array.from([1, 0]), Uint8Array.from([0, 0])), 0, 'a lead of one is no evidence');
  t.end();
});

t.test('without validation, trainMined with auto trains as the start’s choice given explicitly', (t) => {
  const base = small({ maxIterations: 60, evaluationInterval: 20, seed: 3, validationFraction: 0 });
  for (const [name, s, expected] of knownAnswers()) {
    const auto = trainMined(s, base);
    t.equal(auto.metrics.normalized, expected, `${name}: normalized ${expected}`);
    const ev = auto.metrics.normalizeEvidence;
    t.ok(
      ev?.by === 'start' && (expected ? ev.z! < AUTO_PLAIN_Z : ev.z! >= AUTO_PLAIN_Z),
      `${name}: ${JSON.stringify(ev)}`,
    );
    const given = trainMined(s, { ...base, normalize: expected });
    t.same(auto.W, given.W, `${name}: the same W as normalize ${expected}`);
    t.equal(given.metrics.normalized, expected);
    t.notOk('normalizeEvidence' in given.metrics, `${name}: no evidence when the request said`);
    t.same(trainMined(s, base).W, auto.W, `${name}: deterministic`);
  }
  t.end();
});

t.test('the trial: a tenth of the schedule in whole evaluations, at most all of it', (t) => {
  t.equal(normalizeTrialSteps(3000, 100), 300);
  t.equal(normalizeTrialSteps(120, 7), 14, 'rounded up to a whole evaluation');
  t.equal(normalizeTrialSteps(60, 20), 20, 'at least one evaluation');
  t.equal(normalizeTrialSteps(5, 10), 5, 'a run shorter than an evaluation: all of it');
  t.end();
});

t.test('the trial keeps plain only on a gain beyond minDelta, and never compares losses', (t) => {
  const fig = (mapAtR: number, validationLoss: number): ValidationFigures => ({
    validationLoss,
    validationTripletAccuracy: 0.9,
    precisionAt1: 0.9,
    rPrecision: 0.5,
    mapAtR,
  });
  const o = { metric: 'mapAtR' as const, minDelta: 1e-3, steps: 300, queries: 90 };
  t.match(trialChoice({ unit: fig(0.5, 1), plain: fig(0.5, 1) }, o), { normalize: true }, 'a tie: unit');
  t.match(trialChoice({ unit: fig(0.5, 1), plain: fig(0.5009, 1) }, o), { normalize: true }, 'within minDelta: unit');
  t.same(trialChoice({ unit: fig(0.5, 1), plain: fig(0.52, 1) }, o), {
    normalize: false,
    by: 'validation',
    plain: 0.52,
    unit: 0.5,
    queries: 90,
    metric: 'mapAtR',
    steps: 300,
  });
  // plain's loss is lower but on another scale: MAP@R decides, and says so
  const byLoss = trialChoice({ unit: fig(0.6, 0.5), plain: fig(0.5, 0.01) }, { ...o, metric: 'validationLoss' });
  t.match(byLoss, { normalize: true, metric: 'mapAtR', plain: 0.5, unit: 0.6 });
  t.end();
});

t.test('validation on held-out samples of the training labels: the start chooses, no trial', (t) => {
  const base = small({ maxIterations: 60, evaluationInterval: 10, validationFraction: 0.2, seed: 3 });
  for (const [name, s, expected] of knownAnswers()) {
    const p = { ...base, validationSplit: 'samples' as const };
    const reports: MinedProgress[] = [];
    const auto = trainMined(s, p, { onProgress: (pr) => reports.push(pr), progressIntervalMs: 0 });
    t.equal(auto.metrics.validationSplit, 'samples', `${name}: validation holds out samples`);
    t.equal(auto.metrics.normalizeEvidence?.by, 'start', `${name}: by the start's evidence`);
    // the start's rule over the training rows, reported without the choice and its query count
    const rows = Array.from(splitFor(s, p).train);
    const X = Float64Array.from(rows.flatMap((i) => Array.from(s.X.subarray(i * 3, i * 3 + 3))));
    const {
      normalize: _n,
      queries: _q,
      ...evidence
    } = chooseNormalize(
      X,
      3,
      IDENTITY3,
      3,
      Int32Array.from(rows, (i) => s.labels[i]),
    );
    t.same(auto.metrics.normalizeEvidence, evidence, `${name}: the start's evidence on the training rows`);
    t.equal(auto.metrics.normalized, expected, `${name}: normalized ${expected}`);
    t.same(auto.W, trainMined(s, { ...p, normalize: expected }).W, `${name}: the same W as normalize ${expected}`);
    t.ok(
      reports.every((r) => r.normalizeTrialSteps === undefined),
      `${name}: no report carries a trial`,
    );
  }
  t.end();
});

t.test('with validation, auto trains both ways for the trial and goes on with the better one', (t) => {
  const base = small({ maxIterations: 60, evaluationInterval: 10, validationFraction: 0.2, seed: 3 });
  const steps = normalizeTrialSteps(base.maxIterations, base.evaluationInterval);
  /** the validation figures each explicit run reported at the trial's last step */
  const atTrialEnd = (s: ReturnType<typeof byLength>, normalize: boolean) => {
    let at: MinedProgress | undefined;
    const r = trainMined(
      s,
      { ...base, normalize },
      { onProgress: (pr) => (at ??= pr.validationIteration === steps ? pr : undefined) },
    );
    return { r, mapAtR: at!.mapAtR! };
  };
  for (const [name, s, expected] of knownAnswers()) {
    const reports: MinedProgress[] = [];
    const auto = trainMined(s, base, { onProgress: (pr) => reports.push(pr), progressIntervalMs: 0 });
    const unit = atTrialEnd(s, true);
    const plain = atTrialEnd(s, false);
    t.equal(auto.metrics.normalized, expected, `${name}: normalized ${expected}`);
    t.same(
      auto.metrics.normalizeEvidence,
      { by: 'validation', plain: plain.mapAtR, unit: unit.mapAtR, metric: 'mapAtR', steps },
      `${name}: each way's validation MAP@R at step ${steps}, as the explicit runs reported it`,
    );
    t.same(auto.W, (expected ? unit : plain).r.W, `${name}: the same W as normalize ${expected}`);
    t.same(auto.metrics.validation, (expected ? unit : plain).r.metrics.validation, `${name}: and its figures`);
    const its = reports.map((r) => r.iteration);
    t.ok(
      its.every((it, i) => i === 0 || it >= its[i - 1]),
      `${name}: one run reports, its steps never go back`,
    );
    t.equal(its.at(-1), auto.metrics.iterations, `${name}: up to the last step`);
  }
  let polls = 0;
  const cancelled = trainMined(byLength(4, 15, 1), base, { shouldStop: () => ++polls > 5 });
  t.equal(cancelled.metrics.stopReason, 'cancelled', 'cancelling inside the trial stops both ways');
  t.equal(cancelled.metrics.iterations, 5, 'after the 5 steps each that the polls allowed');
  t.equal(cancelled.metrics.normalizeEvidence?.by, 'validation', 'and says what the figures so far preferred');
  t.end();
});

t.test('reports inside the trial: its length, and `validating` until both ways have evaluated', (t) => {
  const base = small({ maxIterations: 60, evaluationInterval: 5, validationFraction: 0.2, seed: 3 });
  const steps = normalizeTrialSteps(base.maxIterations, base.evaluationInterval);
  // the batch projection runs once a training step, of either way: log it between the reports
  const log: string[] = [];
  const kernels: Kernels = {
    ...jsKernels,
    project: (...a: Parameters<Kernels['project']>) => {
      log.push('step');
      jsKernels.project(...a);
    },
  };
  const reports: MinedProgress[] = [];
  const onProgress = (pr: MinedProgress) => {
    reports.push(pr);
    log.push(`${pr.phase ?? 'training'}@${pr.iteration}`);
  };
  trainMined(byLength(4, 15, 1), base, { onProgress, progressIntervalMs: 0 }, kernels);
  const inside = reports.filter((r) => r.normalizeTrialSteps !== undefined);
  t.same(
    [...new Set(inside.map((r) => r.normalizeTrialSteps))],
    [steps],
    `the trial's ${steps} steps, in the reports up to its end`,
  );
  t.ok(
    inside.length > 0 && reports.every((r) => (r.normalizeTrialSteps !== undefined) === r.iteration <= steps),
    'every report up to the trial’s end carries it, none after',
  );
  /** the training steps logged between the `validating` and the `training` report of step s */
  const stepsWhileValidating = (s: number) => {
    const from = log.indexOf(`validating@${s}`);
    const to = log.indexOf(`training@${s}`, from);
    return log.slice(from + 1, to).filter((e) => e === 'step').length;
  };
  t.ok(log.includes(`validating@${steps}`), 'the trial’s last evaluation is reported');
  for (let s = base.evaluationInterval; s <= steps; s += base.evaluationInterval)
    t.equal(stepsWhileValidating(s), 1, `step ${s}: the other way steps and evaluates before \`training\``);
  t.equal(stepsWhileValidating(steps + base.evaluationInterval), 0, 'after the trial: one way, as before');
  t.end();
});

t.test('a way that stops early inside the trial: the model is still the explicit choice’s', (t) => {
  // candidates from step 0 and patience 1: runs stop at the first evaluation without a gain
  const base = small({
    maxIterations: 200,
    evaluationInterval: 5,
    validationFraction: 0.2,
    earlyStoppingStart: 0,
    patience: 1,
    seed: 4,
  });
  const steps = normalizeTrialSteps(base.maxIterations, base.evaluationInterval);
  let stoppedInside = 0;
  for (const [name, s] of [
    ['by length', byLength(4, 15, 1)],
    ['by direction', byDirection(12, 10, 2)],
  ] as const) {
    const reports: number[] = [];
    const auto = trainMined(s, base, { onProgress: (pr) => reports.push(pr.iteration), progressIntervalMs: 0 });
    const ways = [true, false].map((normalize) => trainMined(s, { ...base, normalize }));
    stoppedInside += ways.filter((w) => w.metrics.iterations < steps).length;
    const given = ways[auto.metrics.normalized ? 0 : 1];
    t.same(auto.W, given.W, `${name}: the same W as normalize ${auto.metrics.normalized}`);
    t.same(
      [auto.metrics.iterations, auto.metrics.stopReason, auto.metrics.earlyStopped],
      [given.metrics.iterations, given.metrics.stopReason, given.metrics.earlyStopped],
      `${name}: stopped as it did (${given.metrics.iterations} steps)`,
    );
    const kept = (w: (typeof ways)[number]) => w.metrics.validation!.mapAtR!;
    if (ways.every((w) => w.metrics.iterations <= steps))
      t.equal(
        auto.metrics.normalized,
        !(kept(ways[1]) > kept(ways[0]) + base.minDelta),
        `${name}: by the kept W's MAP@R`,
      );
    t.ok(
      reports.every((it, i) => i === 0 || it >= reports[i - 1]),
      `${name}: reports never step back (${reports.slice(0, 8).join(', ')}, …)`,
    );
    // a winner that stopped inside the trial before the other way reports the step that way reached
    const reached = Math.max(auto.metrics.iterations, ...ways.map((w) => Math.min(w.metrics.iterations, steps)));
    t.equal(reports.at(-1), reached, `${name}: the last report is the last step either way reached`);
  }
  t.ok(stoppedInside > 0, `${stoppedInside} of the 4 ways stopped inside the ${steps}-step trial`);

  // the way that wins stops inside the trial before the other: the reports still never step back
  const seen: number[] = [];
  const first = trainMined(
    byLength(4, 15, 1),
    { ...base, seed: 3 },
    {
      onProgress: (pr) => seen.push(pr.iteration),
      progressIntervalMs: 0,
    },
  );
  const reached = Math.max(...seen);
  t.ok(
    first.metrics.iterations < reached,
    `the winner stopped at ${first.metrics.iterations}, reports reached ${reached}`,
  );
  t.ok(
    seen.every((it, i) => i === 0 || it >= seen[i - 1]),
    `reports never step back (…, ${seen.slice(-3).join(', ')})`,
  );

  // the reporting (unit-norm) way stops first: the other takes over its reports
  const noisy = labelsByLength(6, 6, 15, 0.3, 1);
  const q: MinedTrainParams = { ...base, maxIterations: 400, patience: 3, seed: 3 };
  const qSteps = normalizeTrialSteps(q.maxIterations, q.evaluationInterval);
  const [unit, plain] = [true, false].map((normalize) => trainMined(noisy, { ...q, normalize }));
  t.ok(
    unit.metrics.iterations < qSteps && plain.metrics.iterations > qSteps,
    `unit norm stops at ${unit.metrics.iterations}, plain goes past the trial's ${qSteps}`,
  );
  const points: MinedProgress[] = [];
  const auto = trainMined(noisy, q, { onProgress: (pr) => points.push(pr), progressIntervalMs: 0 });
  const reports = points.map((p) => p.iteration);
  t.equal(auto.metrics.normalized, false, 'plain goes on');
  t.same(auto.W, plain.W, 'with the same W as normalize false');
  t.ok(
    reports.every((it, i) => i === 0 || it >= reports[i - 1]),
    'reports never step back',
  );
  for (const at of [unit.metrics.iterations + 1, qSteps, auto.metrics.iterations])
    t.ok(reports.includes(at), `a report at step ${at}`);
  const u = unit.metrics.iterations;
  const at = points.findIndex((p) => p.iteration === u && p.phase === 'validating');
  t.same(
    points.slice(at, at + 2).map((p) => `${p.phase}@${p.iteration}`),
    [`validating@${u}`, `training@${u}`],
    'the evaluation unit norm stopped at is closed by a `training` report from plain',
  );
  t.ok(
    points.every((p, i) => (p.normalizeTrialSteps !== undefined) === i <= at),
    'reports carry the trial’s length while both ways go on, up to that evaluation, none after',
  );
  t.end();
});
