// Input checks every trainer shares. The HTTP layer validates earlier; these guard the math.

export const isPositiveInteger = (v: number): boolean => Number.isInteger(v) && v > 0;

export interface CommonParams {
  outputDimension: number;
  margin: number;
  weightDecay: number;
  maxIterations: number;
}

/** Throws a RangeError naming the first option out of range. */
export function checkCommonParams(p: CommonParams): void {
  const k = p.outputDimension;
  if (!isPositiveInteger(k)) throw new RangeError(`outputDimension must be a positive integer (got ${k})`);
  if (!(Number.isFinite(p.margin) && p.margin >= 0)) throw new RangeError(`margin must be ≥ 0 (got ${p.margin})`);
  if (!(Number.isFinite(p.weightDecay) && p.weightDecay >= 0))
    throw new RangeError(`weightDecay must be ≥ 0 (got ${p.weightDecay})`);
  if (!(Number.isInteger(p.maxIterations) && p.maxIterations >= 0))
    throw new RangeError(`maxIterations must be an integer ≥ 0 (got ${p.maxIterations})`);
}
