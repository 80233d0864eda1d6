// Reproduces the shared fixtures: the write-up's Octave tripletCost (original and
// hinged) and numpy's hinge loss/gradient on 32 digits triplets.
import t from 'tap';
import { createTripletObjective } from '../../src/math/losses.js';
import type { TripletSet } from '../../src/math/types.js';
import { SHARED, close, firstMismatch, flat64, readJson } from './helpers.js';

const REL = 1e-9;
const ABS = 1e-12;

interface Expected {
  loss: number;
  grad: number[][];
  active_count?: number;
  [key: string]: unknown;
}

function setFrom(fx: { anchors: number[][]; positives: number[][]; negatives: number[][] }): TripletSet {
  const anchors = flat64(fx.anchors);
  return {
    m: fx.anchors.length,
    d: fx.anchors[0].length,
    anchors,
    positives: flat64(fx.positives),
    negatives: flat64(fx.negatives),
  };
}

function checkCase(
  t: any,
  label: string,
  set: TripletSet,
  W: Float64Array,
  k: number,
  opts: Parameters<typeof createTripletObjective>[1],
  exp: Expected,
) {
  const grad = new Float64Array(W.length);
  const v = createTripletObjective(set, opts).evaluate(W, k, grad);
  t.ok(close(v.loss, exp.loss, REL, ABS), `${label}: loss ${v.loss} vs ${exp.loss}`);
  const want = flat64(exp.grad);
  const bad = firstMismatch(grad, want, REL, ABS);
  t.equal(
    bad,
    -1,
    `${label}: every gradient entry within 1e-9 rel` +
      (bad >= 0 ? ` (index ${bad}: ${grad[bad]} vs ${want[bad]})` : ''),
  );
  // loss-only evaluation agrees with the gradient evaluation
  const v2 = createTripletObjective(set, opts).evaluate(W, k, null);
  t.equal(v2.loss, v.loss, `${label}: loss-only path gives the same loss`);
  return v;
}

t.test('seed_octave: write-up tripletCost, original and hinged', (t) => {
  const fx = readJson(`${SHARED}/fixtures/seed_octave.json`);
  const set = setFrom(fx);
  t.equal(set.m, fx.m);
  t.equal(set.d, fx.d);
  const W = flat64(fx.W);
  t.equal(W.length, fx.k * fx.d);
  checkCase(
    t,
    'original',
    set,
    W,
    fx.k,
    { margin: fx.margin, normalize: false, weightDecay: 0, hinge: 'none' },
    fx.original,
  );
  const v = checkCase(
    t,
    'hinged',
    set,
    W,
    fx.k,
    { margin: fx.margin, normalize: false, weightDecay: 0, hinge: 'relu' },
    fx.hinged,
  );
  const activeKey = Object.keys(fx.hinged).find((key) => /active/i.test(key));
  t.ok(activeKey, `hinged fixture carries an active count (${Object.keys(fx.hinged).join(',')})`);
  if (activeKey) t.equal(v.activeCount, fx.hinged[activeKey], 'hinged active count');
  t.end();
});

t.test('gradcheck_digits: 4 cases normalize × weight decay', (t) => {
  const fx = readJson(`${SHARED}/fixtures/gradcheck_digits.json`);
  const set = setFrom(fx);
  const W = flat64(fx.W);
  t.equal(fx.cases.length, 4);
  for (const c of fx.cases) {
    t.equal(c.reduction, 'mean');
    checkCase(
      t,
      `normalize=${c.normalize} wd=${c.weight_decay}`,
      set,
      W,
      fx.k,
      { margin: fx.margin, normalize: c.normalize, weightDecay: c.weight_decay },
      c,
    );
  }
  t.end();
});

t.test('gradcheck_digits values do not survive float32 (why TripletSet accepts Float64Array)', (t) => {
  const fx = readJson(`${SHARED}/fixtures/gradcheck_digits.json`);
  const a = flat64(fx.anchors);
  const f32 = Float32Array.from(a);
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (f32[i] !== a[i]) changed++;
  t.ok(changed > 0, `${changed} of ${a.length} anchor values change when rounded to float32`);
  t.end();
});
