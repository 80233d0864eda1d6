// learningRate 'auto' (src/math/mining/learning-rate.ts): Adam's rate follows the start map's scale, so
// the same samples in other units train the same model; an absolute rate does not.
import t from 'tap';
import { DEFAULT_MINED_PARAMS } from '../../src/math/defaults.js';
import { RELATIVE_LEARNING_RATE, startRelativeLearningRate } from '../../src/math/mining/learning-rate.js';
import { trainMined } from '../../src/math/mining/train-mined.js';
import type { LabelledSamples, MinedTrainParams } from '../../src/math/mining/types.js';
import { createRng } from '../../src/math/rng.js';
import { relErr } from './helpers.js';

/** 12 labels in the first 4 of 10 features, shared noise in the rest, every value times `scale`. */
function samples(scale: number): LabelledSamples {
  const rng = createRng(7);
  const [c, per, d] = [12, 8, 10];
  const centres = Float64Array.from({ length: c * 4 }, () => rng.normal());
  const X = new Float64Array(c * per * d);
  const labels = Int32Array.from({ length: c * per }, (_, i) => i % c);
  for (let i = 0; i < labels.length; i++)
    for (let j = 0; j < d; j++)
      X[i * d + j] = scale * (j < 4 ? centres[labels[i] * 4 + j] + 0.3 * rng.normal() : rng.normal());
  return { n: labels.length, d, X, labels };
}

const params = (over: Partial<MinedTrainParams> = {}): MinedTrainParams => ({
  ...DEFAULT_MINED_PARAMS,
  outputDimension: 3,
  maxIterations: 200,
  batchSize: 32,
  samplesPerLabel: 4,
  evaluationInterval: 50,
  seed: 2,
  ...over,
});

t.test('the rate is RELATIVE_LEARNING_RATE times the RMS entry of W₀; a zero start gets the relative rate', (t) => {
  t.equal(startRelativeLearningRate(Float64Array.from([3, -3, 3, -3])), RELATIVE_LEARNING_RATE * 3);
  t.equal(startRelativeLearningRate(Float64Array.from([1, 0, 0, 1])), RELATIVE_LEARNING_RATE * Math.SQRT1_2);
  t.equal(startRelativeLearningRate(new Float64Array(4)), RELATIVE_LEARNING_RATE);
  t.end();
});

t.test('auto: the same samples 1,000 times larger train the same map, 1,000 times smaller', (t) => {
  const small = trainMined(samples(1), params());
  const large = trainMined(samples(1000), params());
  const ratio = small.metrics.learningRate! / large.metrics.learningRate!;
  t.ok(Math.abs(ratio / 1000 - 1) < 1e-9, `the rate follows the scale: ${ratio}`);
  const scaled = large.W.map((v) => v * 1000);
  t.ok(relErr(scaled, small.W) < 1e-6, `W·1000 matches: ${relErr(scaled, small.W)}`);
  t.equal(large.metrics.validation?.precisionAt1, small.metrics.validation?.precisionAt1, 'and validates the same');
  t.equal(large.metrics.normalized, small.metrics.normalized);
  t.end();
});

t.test('auto with weight decay: the same map at 1× and 1,000× too', (t) => {
  // Adam's ε (1e-8 beside √v, which grows with the units) is the one term that does not scale
  const small = trainMined(samples(1), params({ weightDecay: 1, adamEpsilon: 1e-30 }));
  const large = trainMined(samples(1000), params({ weightDecay: 1, adamEpsilon: 1e-30 }));
  const scaled = large.W.map((v) => v * 1000);
  t.ok(relErr(scaled, small.W) < 1e-6, `W·1000 matches: ${relErr(scaled, small.W)}`);
  const none = trainMined(samples(1), params());
  t.ok(relErr(none.W, small.W) > 1e-3, `and the decay does something: ${relErr(none.W, small.W)}`);
  t.end();
});

t.test('an absolute rate trains another map when the units change', (t) => {
  const small = trainMined(samples(1), params({ learningRate: 3e-3 }));
  const large = trainMined(samples(1000), params({ learningRate: 3e-3 }));
  t.equal(small.metrics.learningRate, 3e-3, 'the request’s rate ran');
  const scaled = large.W.map((v) => v * 1000);
  t.ok(relErr(scaled, small.W) > 0.1, `W·1000 differs: ${relErr(scaled, small.W)}`);
  t.end();
});
