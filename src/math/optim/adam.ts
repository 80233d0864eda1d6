// Adam (Kingma & Ba 2015) with bias correction, optional weight decay (decoupled, as AdamW, by
// default) and a cosine learning-rate schedule. All state is preallocated; `update` allocates nothing.

export type LearningRateSchedule =
  | { kind: 'constant' }
  /**
   * lr_t = floor + (base − floor)·½(1 + cos(π·min(t, totalSteps)/totalSteps)) for the t-th step
   * (t = 0, 1, …): full rate at the first step, `floor` (absolute, default 0) from step totalSteps on.
   * An optional linear warm-up over the first warmupSteps steps multiplies the rate by (t+1)/warmupSteps.
   */
  | { kind: 'cosine'; totalSteps: number; floor?: number; warmupSteps?: number };

export interface AdamOptions {
  learningRate: number;
  /** default 0.9 */
  beta1?: number;
  /** default 0.999 */
  beta2?: number;
  /** added to √v̂; default 1e-8 */
  epsilon?: number;
  /** default 0 */
  weightDecay?: number;
  /**
   * true (default): AdamW, x ← x − lr_t·weightDecay·x applied outside the adaptive step;
   * false: classic L2, weightDecay·x is added to the gradient before the moments.
   */
  decoupledWeightDecay?: boolean;
  /** default constant */
  schedule?: LearningRateSchedule;
}

export interface Adam {
  /** steps taken so far */
  readonly steps: number;
  /** learning rate the next `update` will use */
  learningRate(): number;
  /** One step: x ← x − lr_t·m̂/(√v̂ + ε) (plus weight decay), g is read and left untouched. */
  update(x: Float64Array, g: Float64Array): void;
  /** Forget the moments and restart the schedule. */
  reset(): void;
  /** A copy of the moments and the step count (the schedule's position), for checkpoints. */
  snapshot(): AdamState;
  /** Continues from a snapshot of an optimiser of the same size and options. */
  restore(s: AdamState): void;
}

/** Adam's state between steps. pow1 = β₁ᵗ and pow2 = β₂ᵗ are kept as the running products the steps use. */
export interface AdamState {
  t: number;
  pow1: number;
  pow2: number;
  m: Float64Array;
  v: Float64Array;
}

export function scheduledLearningRate(base: number, schedule: LearningRateSchedule, t: number): number {
  if (schedule.kind === 'constant') return base;
  const T = Math.max(1, schedule.totalSteps);
  const floor = schedule.floor ?? 0;
  const c = floor + (base - floor) * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, T)) / T));
  const w = schedule.warmupSteps ?? 0;
  return w > 0 && t < w ? (c * (t + 1)) / w : c;
}

export function createAdam(n: number, opts: AdamOptions): Adam {
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.epsilon ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  const decoupled = opts.decoupledWeightDecay ?? true;
  const schedule: LearningRateSchedule = opts.schedule ?? { kind: 'constant' };
  const base = opts.learningRate;
  if (!(Number.isFinite(base) && base >= 0)) throw new RangeError(`learningRate must be ≥ 0 (got ${base})`);
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1))
    throw new RangeError(`betas must be in [0, 1) (got ${beta1}, ${beta2})`);
  if (!(eps > 0)) throw new RangeError(`epsilon must be > 0 (got ${eps})`);
  if (!(Number.isFinite(wd) && wd >= 0)) throw new RangeError(`weightDecay must be ≥ 0 (got ${wd})`);
  const m = new Float64Array(n);
  const v = new Float64Array(n);
  let t = 0;
  let pow1 = 1;
  let pow2 = 1;
  return {
    get steps() {
      return t;
    },
    learningRate: () => scheduledLearningRate(base, schedule, t),
    update(x, g) {
      if (x.length !== n || g.length !== n) throw new RangeError(`Adam: expected ${n} values`);
      const lr = scheduledLearningRate(base, schedule, t);
      t++;
      pow1 *= beta1;
      pow2 *= beta2;
      const c1 = 1 / (1 - pow1);
      const c2 = 1 / (1 - pow2);
      const coupled = !decoupled && wd > 0;
      const shrink = decoupled && wd > 0 ? 1 - lr * wd : 1;
      for (let i = 0; i < n; i++) {
        const gi = coupled ? g[i] + wd * x[i] : g[i];
        const mi = beta1 * m[i] + (1 - beta1) * gi;
        const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        x[i] = x[i] * shrink - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
      }
    },
    reset() {
      m.fill(0);
      v.fill(0);
      t = 0;
      pow1 = 1;
      pow2 = 1;
    },
    snapshot: () => ({ t, pow1, pow2, m: Float64Array.from(m), v: Float64Array.from(v) }),
    restore(s) {
      if (s.m.length !== n || s.v.length !== n) throw new RangeError(`checkpoint: Adam moments need ${n} values`);
      if (!(Number.isInteger(s.t) && s.t >= 0)) throw new RangeError(`checkpoint: Adam step is ${s.t}`);
      m.set(s.m);
      v.set(s.v);
      t = s.t;
      pow1 = s.pow1;
      pow2 = s.pow2;
    },
  };
}
