// The per-triplet loss ℓ(v) of v = d(a,p) − d(a,n), and the reducers that average one miner's
// losses: the "loss" and "reducer" of pytorch-metric-learning's composition.
import type { MinedLossName, ReductionName } from './types.js';

/** log(1 + eˣ) without overflow or loss of precision for large |x|. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** 1 / (1 + e⁻ˣ), the derivative of softplus, without overflow. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export interface TripletLoss {
  readonly name: MinedLossName;
  /** ℓ(v) */
  value(v: number): number;
  /** dℓ/dv (the hinge's is 0 at its kink) */
  derivative(v: number): number;
}

/** max(0, v + margin). */
export function hingeLoss(margin: number): TripletLoss {
  return Object.freeze({
    name: 'hinge' as const,
    value: (v: number) => Math.max(0, v + margin),
    derivative: (v: number) => (v + margin > 0 ? 1 : 0),
  });
}

/** log(1 + eᵛ): Hermans et al.'s soft margin, no margin. */
export const softplusLoss: TripletLoss = Object.freeze({
  name: 'softplus' as const,
  value: softplus,
  derivative: sigmoid,
});

export function tripletLossByName(name: MinedLossName, margin: number): TripletLoss {
  if (name === 'hinge') return hingeLoss(margin);
  if (name === 'softplus') return softplusLoss;
  throw new RangeError(`unknown loss ${String(name)}`);
}

/** The count a miner's summed loss is divided by; 0 means the miner contributes nothing. */
export type Reducer = (nonzeroCount: number, tripletCount: number) => number;

/** pytorch-metric-learning's AvgNonZeroReducer: the mean over the triplets with a loss > 0. */
export const averageNonZero: Reducer = (nonzeroCount) => nonzeroCount;

/** The mean over every mined triplet (TF-Addons, Hermans et al.). */
export const averageAll: Reducer = (_nonzeroCount, tripletCount) => tripletCount;

export function reducerByName(name: ReductionName): Reducer {
  if (name === 'nonzero') return averageNonZero;
  if (name === 'all') return averageAll;
  throw new RangeError(`unknown reduction ${String(name)}`);
}
