// Optimisers and the strong-Wolfe line search.
import t from 'tap';
import { minimizeCg } from '../../src/math/optim/cg.js';
import { createLbfgsStrategy, minimizeLbfgs } from '../../src/math/optim/lbfgs.js';
import { createLineSearchWork, wolfeLineSearch } from '../../src/math/optim/linesearch.js';
import type { FG } from '../../src/math/optim/types.js';

const rosenbrock: FG = (x, g) => {
  let f = 0;
  g.fill(0);
  for (let i = 0; i + 1 < x.length; i++) {
    const a = x[i + 1] - x[i] * x[i];
    const b = 1 - x[i];
    f += 100 * a * a + b * b;
    g[i] += -400 * x[i] * a - 2 * b;
    g[i + 1] += 200 * a;
  }
  return f;
};

/** f = ½ Σ c_i (x_i − i)², condition number 1e3 */
const quadratic: FG = (x, g) => {
  let f = 0;
  for (let i = 0; i < x.length; i++) {
    const c = Math.pow(1000, i / (x.length - 1));
    const r = x[i] - i;
    f += 0.5 * c * r * r;
    g[i] = c * r;
  }
  return f;
};

const minimizers = { lbfgs: minimizeLbfgs, cg: minimizeCg };

t.test('Rosenbrock converges', (t) => {
  for (const [name, minimize] of Object.entries(minimizers)) {
    const x0 = new Float64Array([-1.2, 1, -1.2, 1]);
    const r = minimize(rosenbrock, x0, { maxIterations: 5000, gradientTolerance: 1e-7, noProgressTolerance: 0 });
    t.ok(
      r.x.every((v) => Math.abs(v - 1) < 1e-5),
      `${name}: x → 1 (${Array.from(r.x).map((v) => v.toFixed(6))}) reason ${r.reason}, ${r.iterations} it, ${r.evaluations} evals`,
    );
    t.equal(r.reason, 'gradient_tolerance', `${name}: stops on gradient tolerance`);
    t.same(Array.from(x0), [-1.2, 1, -1.2, 1], `${name}: x0 untouched`);
  }
  t.end();
});

t.test('convex quadratic converges', (t) => {
  for (const [name, minimize] of Object.entries(minimizers)) {
    const r = minimize(quadratic, new Float64Array(20), {
      maxIterations: 1000,
      gradientTolerance: 1e-9,
      noProgressTolerance: 0,
    });
    t.ok(
      r.x.every((v, i) => Math.abs(v - i) < 1e-8),
      `${name}: reaches the minimiser (${r.iterations} it)`,
    );
    t.ok(r.f < 1e-15, `${name}: f ${r.f}`);
  }
  t.end();
});

t.test('line search satisfies the strong Wolfe conditions on a smooth function', (t) => {
  const x = new Float64Array([-1.2, 1]);
  const g = new Float64Array(2);
  const f0 = rosenbrock(x, g);
  const dir = Float64Array.from(g, (v) => -v);
  const gtd0 = -(g[0] * g[0] + g[1] * g[1]);
  for (const [alpha0, c2] of [
    [1, 0.9],
    [1e-4, 0.9],
    [1, 0.1],
    [1e-3, 0.1],
  ]) {
    const xo = new Float64Array(2);
    const go = new Float64Array(2);
    const r = wolfeLineSearch(rosenbrock, x, f0, gtd0, dir, alpha0, xo, go, createLineSearchWork(2), { c1: 1e-4, c2 });
    t.equal(r.status, 'wolfe', `alpha0=${alpha0} c2=${c2}`);
    const gtd = go[0] * dir[0] + go[1] * dir[1];
    t.ok(r.f <= f0 + 1e-4 * r.alpha * gtd0, 'sufficient decrease');
    t.ok(Math.abs(gtd) <= -c2 * gtd0, 'strong curvature');
    t.equal(rosenbrock(xo, new Float64Array(2)), r.f, 'returned point matches returned f');
  }
  t.end();
});

t.test('non-smooth objective: no throw, no NaN, sensible stop', (t) => {
  // f = Σ|x_i| + max(0, 1 − x_0): kinks everywhere along the path
  const nonsmooth: FG = (x, g) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) {
      f += Math.abs(x[i]);
      g[i] = Math.sign(x[i]);
    }
    if (1 - x[0] > 0) {
      f += 1 - x[0];
      g[0] -= 1;
    }
    return f;
  };
  for (const [name, minimize] of Object.entries(minimizers)) {
    const r = minimize(nonsmooth, new Float64Array([3, -2, 0.5]), { maxIterations: 200, gradientTolerance: 1e-8 });
    t.ok(Number.isFinite(r.f) && r.x.every(Number.isFinite), `${name}: finite result f=${r.f} reason=${r.reason}`);
    t.ok(r.f <= 3 + 2 + 0.5 + 1e-12, `${name}: never worse than the start`);
  }
  t.end();
});

t.test('an objective returning NaN is reported, not thrown', (t) => {
  const bad: FG = (x, g) => {
    g.fill(1);
    return x[0] > 0.5 || x[0] < -0.5 ? NaN : x[0] + 2;
  };
  for (const [name, minimize] of Object.entries(minimizers)) {
    const r = minimize(bad, new Float64Array([0]), { maxIterations: 50, gradientTolerance: 1e-8 });
    t.ok(Number.isFinite(r.f), `${name}: f=${r.f} reason=${r.reason}`);
  }
  t.end();
});

t.test('stopping rules: zero loss, max iterations, cancellation, iteration callback', (t) => {
  const zero: FG = (x, g) => {
    g.fill(0);
    return 0;
  };
  t.equal(minimizeLbfgs(zero, new Float64Array(3), { maxIterations: 10, gradientTolerance: 0 }).reason, 'zero_loss');
  const r = minimizeLbfgs(rosenbrock, new Float64Array([-1.2, 1]), { maxIterations: 3, gradientTolerance: 0 });
  t.equal(r.reason, 'max_iterations');
  t.equal(r.iterations, 3);
  let polls = 0;
  const c = minimizeCg(rosenbrock, new Float64Array([-1.2, 1]), {
    maxIterations: 100,
    gradientTolerance: 0,
    shouldStop: () => ++polls > 5,
  });
  t.equal(c.reason, 'cancelled');
  t.ok(c.evaluations <= 6, `stopped after ${c.evaluations} evaluations`);
  const seen: number[] = [];
  minimizeLbfgs(quadratic, new Float64Array(5), {
    maxIterations: 4,
    gradientTolerance: 0,
    onIteration: (i) => seen.push(i.iteration),
  });
  t.same(seen, [1, 2, 3, 4]);
  t.end();
});

t.test('L-BFGS: a pair skipped for non-positive curvature leaves the stored pairs intact', (t) => {
  const n = 2;
  const lbfgs = createLbfgsStrategy(n, 2);
  const step = (x: number[], xNew: number[], g: number[], gNew: number[]) =>
    lbfgs.update(
      Float64Array.from(x),
      Float64Array.from(xNew),
      Float64Array.from(g),
      Float64Array.from(gNew),
      new Float64Array(n),
      1,
      -1,
    );
  step([0, 0], [1, 0], [0, 0], [2, 0]); // s = (1, 0), y = (2, 0): accepted
  step([1, 0], [1, 1], [2, 0], [2, 3]); // s = (0, 1), y = (0, 3): accepted, memory now full
  const before = lbfgs.snapshot();
  step([1, 1], [2, 1], [2, 3], [1, 3]); // s = (1, 0), y = (−1, 0): yᵀs < 0, skipped
  const after = lbfgs.snapshot();
  t.same(after, before, 'S, Y, ρ and γ are those of the two accepted pairs');
  t.end();
});

t.test('line search on a kink: an Armijo step once the bracket is narrow, and tenfold shrinking', (t) => {
  // f(x) = |x − 1| from x = 0 along +1: slope −1 up to the kink, +1 after. |f'| is 1 everywhere,
  // so the strong curvature condition (|f'| ≤ 0.9) never holds.
  let evals = 0;
  const kink: FG = (x, g) => {
    evals++;
    g[0] = x[0] > 1 ? 1 : -1;
    return Math.abs(x[0] - 1);
  };
  const x = new Float64Array([0]);
  const dir = new Float64Array([1]);
  const xo = new Float64Array(1);
  const go = new Float64Array(1);
  const r = wolfeLineSearch(kink, x, 1, -1, dir, 1000, xo, go, createLineSearchWork(1));
  t.equal(r.status, 'armijo', 'no Wolfe point exists: the best Armijo one');
  t.ok(r.f < 0.2, `close to the kink: f ${r.f} at ${r.alpha}`);
  t.ok(evals <= 8, `${evals} evaluations from a step 1000 times too long (25 allowed)`);
  t.equal(kink(xo, new Float64Array(1)), r.f, 'returned point matches returned f');
  t.end();
});

t.test('L-BFGS on hinge kinks: starts from the last short step, and a resumed run keeps it', (t) => {
  // f = Σ max(0, 1 − aᵢ·x) + ½·λ‖x‖²: once no hinge is active, the curvature pairs see only λ
  const a = Array.from({ length: 40 }, (_, i) => [Math.sin(i + 1), Math.cos(3 * i), Math.sin(7 * i + 2)]);
  const lambda = 1e-3;
  const hinge: FG = (x, g) => {
    let f = 0;
    for (let j = 0; j < 3; j++) g[j] = lambda * x[j];
    for (const ai of a) {
      const m = 1 - (ai[0] * x[0] + ai[1] * x[1] + ai[2] * x[2]);
      if (m <= 0) continue;
      f += m;
      for (let j = 0; j < 3; j++) g[j] -= ai[j];
    }
    return f + 0.5 * lambda * (x[0] ** 2 + x[1] ** 2 + x[2] ** 2);
  };
  const states: { iteration: number; lastAlpha?: number }[] = [];
  const checkpoints = new Map<number, any>();
  const opts = { maxIterations: 60, gradientTolerance: 0 };
  const ref = minimizeLbfgs(hinge, new Float64Array([0.1, 0.2, 0.3]), {
    ...opts,
    onCheckpoint: (s) => {
      const d = s.direction as { lastAlpha?: number };
      states.push({ iteration: s.iteration, lastAlpha: d.lastAlpha });
      checkpoints.set(s.iteration, structuredClone(s));
    },
  });
  const short = states.find((s) => s.iteration > 0 && (s.lastAlpha ?? 1) < 0.1);
  t.ok(short, `an accepted step shorter than 0.1 (steps: ${states.map((s) => s.lastAlpha?.toPrecision(2)).join(' ')})`);
  if (!short) return t.end();
  const resumed = minimizeLbfgs(hinge, new Float64Array([0.1, 0.2, 0.3]), {
    ...opts,
    resumeFrom: checkpoints.get(short.iteration),
  });
  t.same(Array.from(resumed.x), Array.from(ref.x), 'resumed from it: the same end, bit for bit');
  t.equal(resumed.evaluations, ref.evaluations, 'and the same evaluations');
  const old = structuredClone(checkpoints.get(short.iteration));
  delete old.direction.lastAlpha;
  const fromOld = minimizeLbfgs(hinge, new Float64Array([0.1, 0.2, 0.3]), { ...opts, resumeFrom: old });
  t.ok(
    Number.isFinite(fromOld.f) && fromOld.f <= checkpoints.get(short.iteration).f,
    'a checkpoint without it resumes',
  );
  t.end();
});
