// The shared training skeleton: progress throttling on an injected clock, cancellation polling,
// the common option checks, diagnostics, and the early-stopping rules.
import t from 'tap';
import {
  DEFAULT_MARGIN,
  DEFAULT_MINED_PARAMS,
  DEFAULT_PROGRESS_INTERVAL_MS,
  DEFAULT_TRAIN_PARAMS,
} from '../../src/math/defaults.js';
import type { ValidationFigures } from '../../src/math/mining/types.js';
import { checkCommonParams } from '../../src/math/training/checks.js';
import { collapseWarning, COLLAPSE_RATIO, l2 } from '../../src/math/training/diagnostics.js';
import {
  createEarlyStopping,
  figureOf,
  NOISE_MIN_FIGURES,
  NOISE_ROUNDS,
  roundNoise,
  tolerance,
  type EarlyStoppingOptions,
} from '../../src/math/training/early-stopping.js';
import { createProgressReporter, type Clock } from '../../src/math/training/progress.js';

function fakeClock(start = 1000): Clock & { t: number } {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}

t.test('both trainers take the one default margin', (t) => {
  t.equal(DEFAULT_TRAIN_PARAMS.margin, DEFAULT_MARGIN);
  t.equal(DEFAULT_MINED_PARAMS.margin, DEFAULT_MARGIN);
  t.end();
});

t.test('progress: throttled to the interval, forced reports always pass, elapsed from the start', (t) => {
  const clock = fakeClock();
  const seen: number[] = [];
  const pr = createProgressReporter<number>({ onProgress: (p) => seen.push(p), progressIntervalMs: 100 }, { clock });
  t.equal(pr.start, 1000);
  let made = 0;
  const make = (elapsed: number) => {
    made++;
    return elapsed;
  };
  clock.t = 1010;
  t.equal(pr.report(false, make), true, 'the first report is due');
  clock.t = 1050;
  t.equal(pr.report(false, make), false, 'within the interval');
  t.equal(made, 1, 'a skipped report builds nothing');
  clock.t = 1060;
  t.equal(pr.report(true, make), true, 'forced');
  clock.t = 1159;
  t.equal(pr.report(false, make), false, 'the interval counts from the forced report');
  clock.t = 1160;
  t.equal(pr.report(false, make), true);
  t.same(seen, [10, 60, 160]);
  t.end();
});

t.test('progress: default and capped intervals, no hook, cancellation', (t) => {
  const clock = fakeClock(0);
  const seen: number[] = [];
  const dflt = createProgressReporter<number>({ onProgress: (p) => seen.push(p) }, { clock });
  dflt.report(false, (e) => e);
  clock.t = DEFAULT_PROGRESS_INTERVAL_MS - 1;
  dflt.report(false, (e) => e);
  clock.t = DEFAULT_PROGRESS_INTERVAL_MS;
  dflt.report(false, (e) => e);
  t.same(seen, [0, DEFAULT_PROGRESS_INTERVAL_MS], 'default interval');

  seen.length = 0;
  clock.t = 0;
  const capped = createProgressReporter<number>(
    { onProgress: (p) => seen.push(p), progressIntervalMs: 5000 },
    { clock, maxIntervalMs: 1000 },
  );
  for (const at of [0, 999, 1000, 1500, 2000]) {
    clock.t = at;
    capped.report(false, (e) => e);
  }
  t.same(seen, [0, 1000, 2000], 'maxIntervalMs caps what the hooks ask');

  const silent = createProgressReporter<number>({}, { clock });
  t.equal(
    silent.report(true, () => t.fail('make must not run without onProgress') as never),
    false,
  );
  t.equal(silent.cancelled(), false, 'no shouldStop: never cancelled');
  let polls = 0;
  const stopping = createProgressReporter<number>({ shouldStop: () => ++polls >= 3 }, { clock });
  t.same([stopping.cancelled(), stopping.cancelled(), stopping.cancelled()], [false, false, true]);
  t.equal(polls, 3, 'polled once per call');
  t.end();
});

t.test('checkCommonParams names the first bad option', (t) => {
  const ok = { outputDimension: 2, margin: 0.1, weightDecay: 0, maxIterations: 0 };
  t.doesNotThrow(() => checkCommonParams(ok));
  for (const [bad, name] of [
    [{ outputDimension: 0 }, 'outputDimension'],
    [{ outputDimension: 1.5 }, 'outputDimension'],
    [{ margin: -0.1 }, 'margin'],
    [{ margin: Infinity }, 'margin'],
    [{ weightDecay: -1 }, 'weightDecay'],
    [{ weightDecay: NaN }, 'weightDecay'],
    [{ maxIterations: -1 }, 'maxIterations'],
    [{ maxIterations: 2.5 }, 'maxIterations'],
  ] as const) {
    t.throws(() => checkCommonParams({ ...ok, ...bad }), new RegExp(`^${name} `), `${JSON.stringify(bad)}`);
  }
  t.end();
});

t.test('diagnostics: l2 and the mined collapse rules', (t) => {
  t.equal(l2(Float64Array.from([3, 4])), 5);
  t.equal(l2(new Float64Array(0)), 0);
  const spread = { activeFraction: 0.5, meanAbsGap: 1 };
  const hinge = { loss: 'hinge' as const, margin: 0.2 };
  t.equal(collapseWarning(1, 1, spread, hinge), undefined, 'no shrinkage, triplets spread');
  t.match(
    collapseWarning(0.999 * COLLAPSE_RATIO, 1, spread, hinge),
    /^collapse: mean pairwise/,
    'spread below the ratio of the start',
  );
  t.equal(collapseWarning(COLLAPSE_RATIO, 1, spread, hinge), undefined, 'at the ratio is not below it');
  t.equal(collapseWarning(0, 0, spread, hinge), undefined, 'no reference when the start had no spread');
  const atMargin = { activeFraction: 1, meanAbsGap: 0.001 };
  t.match(collapseWarning(1, 1, atMargin, hinge), /every triplet is active at the margin/);
  t.equal(
    collapseWarning(1, 1, atMargin, { loss: 'softplus', margin: 0.2 }),
    undefined,
    'softplus has no margin to sit at',
  );
  t.equal(collapseWarning(1, 1, { activeFraction: 0.99, meanAbsGap: 0.001 }, hinge), undefined);
  t.end();
});

const figures = (mapAtR: number, validationLoss = 1): ValidationFigures => ({
  validationLoss,
  validationTripletAccuracy: 0.5,
  precisionAt1: 0.5,
  rPrecision: 0.5,
  mapAtR,
});

const options = (o: Partial<EarlyStoppingOptions> = {}): EarlyStoppingOptions => ({
  earlyStoppingMetric: 'mapAtR',
  earlyStoppingStart: 0,
  maxIterations: 1000,
  patience: 2,
  minDelta: 0.01,
  ...o,
});

const W = (v: number) => Float64Array.from([v, v]);

t.test('tolerance: minDelta, or the round-to-round noise of the figure when larger', (t) => {
  const p = options();
  t.equal(roundNoise([0.5, 0.9, 0.5, 0.9]), 0, `fewer than ${NOISE_MIN_FIGURES} figures: no noise estimate`);
  t.equal(tolerance(p, [0.5, 0.9, 0.5, 0.9]), 0.01, 'then minDelta');
  t.equal(roundNoise([0, 0.25, 0.5, 0.75, 1]), 0, 'a steady climb is a trend, not noise');
  t.equal(tolerance(p, [0, 0.25, 0.5, 0.75, 1]), 0.01);
  // alternating: changes +0.1, −0.1, +0.1, −0.1 about their mean 0, sample sd 0.1155
  const alt = [0.5, 0.6, 0.5, 0.6, 0.5];
  const d = [0.1, -0.1, 0.1, -0.1];
  const sd = Math.sqrt(d.reduce((s, x) => s + x ** 2, 0) / 3);
  t.ok(Math.abs(roundNoise(alt) - sd / Math.SQRT2) < 1e-12, 'the spread of the changes / √2');
  t.equal(tolerance(p, alt), roundNoise(alt), 'above minDelta: the noise');
  const long = Array.from({ length: 30 }, (_, i) => (i < 20 ? 0.5 + (i % 2) * 0.2 : 0.5));
  t.equal(tolerance(p, long), 0.01, 'only the latest NOISE_ROUNDS figures count: the old swings are forgotten');
  t.equal(NOISE_ROUNDS, 10);
  t.equal(figureOf(figures(0.3, 2), 'validationLoss'), -2, 'a lower loss is a higher figure');
  t.end();
});

t.test('early stopping: candidates, ties within noise, patience', (t) => {
  const es = createEarlyStopping(options({ earlyStoppingStart: 0.5, maxIterations: 100 }), W(0));
  t.equal(es.observe(figures(0.9), 10, W(1)), false);
  t.equal(es.bestFigures, null, 'before earlyStoppingStart a W is not a candidate');
  t.same(Array.from(es.bestW), [0, 0], 'the kept W is still the start');
  t.equal(es.observe(figures(0.5), 50, W(2)), false);
  t.equal(es.bestIteration, 50, 'the first candidate is kept');
  t.equal(es.observe(figures(0.505), 60, W(3)), false, 'a gain within tolerance: stale 1');
  t.equal(es.bestIteration, 60, 'but the later W within noise of the best replaces the kept one');
  t.same(Array.from(es.bestW), [3, 3]);
  t.equal(es.observe(figures(0.498), 70, W(4)), true, 'second evaluation without a real gain: patience 2 runs out');
  t.equal(es.bestIteration, 70, 'still within tolerance of the best (0.505 − 0.01), so kept');
  t.equal(es.observe(figures(0.6), 80, W(5)), false, 'a real gain resets the count');
  t.equal(es.observe(figures(0.3), 90, W(6)), false, 'one stale evaluation');
  t.equal(es.bestIteration, 80, 'a worse W is not kept');
  t.same(Array.from(es.bestW), [5, 5]);
  t.equal(es.bestFigures?.mapAtR, 0.6);
  t.end();
});

t.test('early stopping: the last step is always a candidate; patience 0 never stops', (t) => {
  const late = createEarlyStopping(options({ earlyStoppingStart: 1, maxIterations: 100 }), W(0));
  late.observe(figures(0.2), 99, W(1));
  t.equal(late.bestFigures, null);
  late.observe(figures(0.2), 100, W(2));
  t.equal(late.bestIteration, 100, 'the final evaluation counts even when the start fraction is 1');
  const never = createEarlyStopping(options({ patience: 0 }), W(0));
  let stopped = false;
  for (let i = 1; i <= 20; i++) stopped ||= never.observe(figures(0.9 - i * 0.04), i * 10, W(i));
  t.equal(stopped, false);
  t.equal(never.bestIteration, 10, 'the best stays the first, every later one being worse beyond tolerance');
  t.end();
});

t.test('early stopping on the validation loss: lower is better', (t) => {
  const es = createEarlyStopping(options({ earlyStoppingMetric: 'validationLoss', patience: 1 }), W(0));
  es.observe(figures(0.5, 1.0), 10, W(1));
  t.equal(es.observe(figures(0.5, 0.8), 20, W(2)), false, 'a lower loss is a gain');
  t.equal(es.bestIteration, 20);
  t.equal(es.observe(figures(0.5, 0.85), 30, W(3)), true, 'a higher loss is stale');
  t.equal(es.bestIteration, 20);
  t.end();
});
