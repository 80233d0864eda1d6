// Per-triplet losses and reducers of the mined batch loss.
import t from 'tap';
import {
  averageAll,
  averageNonZero,
  hingeLoss,
  reducerByName,
  softplusLoss,
  tripletLossByName,
} from '../../src/math/mining/triplet-loss.js';

t.test('hinge: max(0, v + margin), derivative 1 where active', (t) => {
  const h = hingeLoss(0.5);
  t.same([-1, -0.5, 0, 1].map(h.value), [0, 0, 0.5, 1.5]);
  t.same([-1, -0.5, -0.25, 1].map(h.derivative), [0, 0, 1, 1], 'inactive at the kink itself');
  t.equal(tripletLossByName('hinge', 0.5).value(0), 0.5);
  t.end();
});

t.test('softplus: derivative matches finite differences', (t) => {
  const eps = 1e-6;
  for (const v of [-30, -3, -0.5, 0, 0.7, 4, 30]) {
    const fd = (softplusLoss.value(v + eps) - softplusLoss.value(v - eps)) / (2 * eps);
    t.ok(Math.abs(fd - softplusLoss.derivative(v)) < 1e-8, `v=${v}`);
  }
  t.equal(tripletLossByName('softplus', 0.5), softplusLoss, 'no margin');
  t.throws(() => tripletLossByName('contrastive' as never, 0), RangeError);
  t.end();
});

t.test('reducers: the count the summed loss is divided by', (t) => {
  t.equal(averageNonZero(3, 10), 3);
  t.equal(averageAll(3, 10), 10);
  t.equal(reducerByName('nonzero'), averageNonZero);
  t.equal(reducerByName('all'), averageAll);
  t.throws(() => reducerByName('sum' as never), RangeError);
  t.end();
});
