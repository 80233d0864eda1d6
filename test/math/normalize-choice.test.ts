// normalize 'auto' (src/math/mining/normalize-choice.ts): unit norm unless the start's plain embeddings
// find significantly more true nearest neighbours (McNemar's continuity-corrected z ≥ 2), on hand-made data whose answer is
// known, and trainMined with it.
import t from 'tap';
import { DEFAULT_MINED_PARAMS, trainMined, type MinedTrainParams } from '../../src/math/mining/index.js';
import { AUTO_PLAIN_Z, chooseNormalize, discordantZ } from '../../src/math/mining/normalize-choice.js';
import { createRng } from '../../src/math/rng.js';

const IDENTITY3 = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);

/** Labels told apart by length alone: every row points nearly the same way, label y at radius 1 + y. */
function byLength(labels: number, per: number, seed: number) {
  const rng = createRng(seed);
  const n = labels * per;
  const y = Int32Array.from({ length: n }, (_, i) => i % labels);
  const X = Float64Array.from({ length: n * 3 }, (_, i) => {
    const r = 1 + y[Math.floor(i / 3)];
    return r * ((i % 3 === 0 ? 1 : 0.6) + 0.04 * rng.normal());
  });
  return { d: 3, n, X, labels: y };
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
  t.same(single, { normalize: true, plain: 0, unit: 0, queries: 0, z: 0 });
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

t.test('trainMined with auto trains as the choice given explicitly, and reports it', (t) => {
  const base: MinedTrainParams = {
    ...DEFAULT_MINED_PARAMS,
    outputDimension: 3,
    init: 'identity',
    maxIterations: 60,
    batchSize: 16,
    samplesPerLabel: 4,
    evaluationInterval: 20,
    seed: 3,
    normalize: 'auto',
  };
  for (const [name, s, expected] of [
    ['by length', byLength(4, 15, 1), false],
    ['by direction', byDirection(12, 10, 2), true],
  ] as const) {
    const auto = trainMined(s, base);
    t.equal(auto.metrics.normalized, expected, `${name}: normalized ${expected}`);
    const ev = auto.metrics.normalizeEvidence;
    t.ok(ev && (expected ? ev.z! < AUTO_PLAIN_Z : ev.z! >= AUTO_PLAIN_Z), `${name}: evidence ${JSON.stringify(ev)}`);
    const given = trainMined(s, { ...base, normalize: expected });
    t.same(auto.W, given.W, `${name}: the same W as normalize ${expected}`);
    t.equal(given.metrics.normalized, expected);
    t.notOk('normalizeEvidence' in given.metrics, `${name}: no evidence when the request said`);
    t.same(trainMined(s, base).W, auto.W, `${name}: deterministic`);
  }
  t.end();
});
