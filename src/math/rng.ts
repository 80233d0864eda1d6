// Seeded PRNG so that the same seed reproduces the same training run bit for bit.
// Mulberry32: 32-bit state, passes gjrand/PractRand far enough for initialisation
// and sampling, and is trivially portable (no BigInt, no Node crypto).

export interface Rng {
  /** uniform in [0, 1) with 32 random bits */
  uniform(): number;
  /** uniform in [lo, hi) */
  range(lo: number, hi: number): number;
  /** standard normal (Box–Muller, second value cached) */
  normal(): number;
  /** integer in [0, n) */
  int(n: number): number;
  /** a copy of the generator's state, so a checkpoint can resume the exact sequence */
  getState(): RngState;
  /** continues from a state getState() returned (of any generator of this module) */
  setState(s: RngState): void;
}

/** Everything a generator carries between draws: Mulberry32's word and Box–Muller's cached value. */
export interface RngState {
  state: number;
  spare: number;
  hasSpare: boolean;
}

const TWO_POW_32 = 4294967296;

/** Mixes an arbitrary JS number seed into a 32-bit starting state. */
function seedState(seed: number): number {
  // splitmix32-style avalanche so that seeds 0, 1, 2 … start far apart
  let z = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export function createRng(seed: number): Rng {
  let state = seedState(seed);
  let spare = 0;
  let hasSpare = false;

  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };

  const normal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    // 1 - u keeps the log argument in (0, 1]
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    hasSpare = true;
    return r * Math.cos(theta);
  };

  return {
    uniform,
    normal,
    range: (lo, hi) => lo + (hi - lo) * uniform(),
    int: (n) => Math.floor(uniform() * n),
    getState: () => ({ state, spare, hasSpare }),
    setState(s) {
      if (!(Number.isInteger(s.state) && s.state >= 0 && s.state < TWO_POW_32))
        throw new RangeError(`rng state must be a 32-bit unsigned integer (got ${s.state})`);
      state = s.state;
      spare = s.spare;
      hasSpare = s.hasSpare;
    },
  };
}

/** Convenience for callers that only need uniform draws: a `Math.random`-shaped seeded function. */
export function seededRandom(seed: number): () => number {
  return createRng(seed).uniform;
}
