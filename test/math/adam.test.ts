// Adam: bias-corrected first step, convergence on a quadratic, cosine schedule, weight decay.
import t from 'tap';
import { createAdam, scheduledLearningRate } from '../../src/math/optim/adam.js';

t.test('first step is lr·sign(g) (bias correction)', (t) => {
  const adam = createAdam(3, { learningRate: 0.1 });
  const x = Float64Array.from([1, 2, 3]);
  adam.update(x, Float64Array.from([5, -0.001, 0]));
  t.ok(Math.abs(x[0] - 0.9) < 1e-6, `${x[0]}`);
  t.ok(Math.abs(x[1] - 2.1) < 1e-4, `${x[1]}`);
  t.equal(x[2], 3, 'zero gradient: no move');
  t.equal(adam.steps, 1);
  t.end();
});

t.test('minimises an ill-conditioned quadratic', (t) => {
  // f(x) = ½ Σ a_i (x_i − c_i)², a from 1e-2 to 1e2
  const n = 5;
  const a = [1e-2, 1e-1, 1, 10, 100];
  const c = [3, -2, 1, 0.5, -1];
  const x = new Float64Array(n);
  const g = new Float64Array(n);
  const steps = 3000;
  const adam = createAdam(n, { learningRate: 0.05, schedule: { kind: 'cosine', totalSteps: steps } });
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < n; i++) g[i] = a[i] * (x[i] - c[i]);
    adam.update(x, g);
  }
  for (let i = 0; i < n; i++) t.ok(Math.abs(x[i] - c[i]) < 1e-3, `x[${i}] = ${x[i]} → ${c[i]}`);
  t.equal(adam.learningRate(), 0, 'cosine reaches 0');
  adam.reset();
  t.equal(adam.steps, 0);
  t.equal(adam.learningRate(), 0.05);
  t.end();
});

t.test('cosine schedule with floor and warm-up', (t) => {
  const s = { kind: 'cosine' as const, totalSteps: 100, floor: 0.1 };
  t.equal(scheduledLearningRate(1, s, 0), 1);
  t.ok(Math.abs(scheduledLearningRate(1, s, 50) - 0.55) < 1e-12);
  t.ok(Math.abs(scheduledLearningRate(1, s, 100) - 0.1) < 1e-12);
  t.ok(Math.abs(scheduledLearningRate(1, s, 1000) - 0.1) < 1e-12, 'stays at the floor');
  t.ok(Math.abs(scheduledLearningRate(1, { ...s, warmupSteps: 10 }, 0) - 0.1) < 1e-12, 'warm-up: (t+1)/w of the rate');
  t.equal(scheduledLearningRate(0.3, { kind: 'constant' }, 77), 0.3);
  t.end();
});

t.test('weight decay: decoupled shrinks by lr·λ, coupled enters the moments', (t) => {
  const dec = createAdam(1, { learningRate: 0.1, weightDecay: 0.5 });
  const x = Float64Array.from([2]);
  dec.update(x, Float64Array.from([0]));
  t.ok(Math.abs(x[0] - 2 * (1 - 0.05)) < 1e-12, `decoupled ${x[0]}`);
  const cou = createAdam(1, { learningRate: 0.1, weightDecay: 0.5, decoupledWeightDecay: false });
  const y = Float64Array.from([2]);
  cou.update(y, Float64Array.from([0]));
  t.ok(Math.abs(y[0] - 1.9) < 1e-6, `coupled: first step lr·sign(λx) ${y[0]}`);
  t.throws(() => createAdam(1, { learningRate: -1 }), RangeError);
  t.throws(() => createAdam(1, { learningRate: 1, beta1: 1 }), RangeError);
  t.end();
});
