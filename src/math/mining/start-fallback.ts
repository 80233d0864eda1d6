// The start map as the last candidate of a validated run. Early stopping keeps only annealed W's
// (a small validation set can score the start perfectly, and the start would then be kept for
// good), so a run whose training makes the map worse on unseen labels, e.g. a few hundred labels
// and k = d, where the start's unit-norm embeddings already generalise, returned a W worse than
// where it began. At the end the start's per-query validation figures are paired with the kept W's
// on the same queries, and the start is returned only when it is ahead by a clear margin; a
// saturated figure (both find every neighbour) gives differences of 0 and keeps the trained W.
// Figures: docs/decisions/0064-start-as-last-candidate.md. Pure.

/**
 * One-sided z the start must reach over the kept W, the threshold of normalize auto's start rule
 * (about p < 0.025 for independent queries; queries of one label are not, so somewhat more often).
 */
export const START_KEEP_Z = 2;

/**
 * The fewest validation queries, and labels among the validation rows, that may overrule training:
 * with a handful of queries z takes a few coarse values (two queries give 0, ±1 or ±Infinity), and one
 * pair of mutually nearest rows would decide.
 */
export const START_MIN_QUERIES = 10;
export const START_MIN_LABELS = 3;

/**
 * Paired z of mean(a − b) over the same queries: mean / (sd / √n), sd with n − 1. 0 with fewer than
 * two queries or no difference; ±Infinity when every query differs by the same nonzero amount.
 */
export function pairedZ(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`pairedZ: ${n} and ${b.length} figures`);
  if (n < 2) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[i] - b[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i] - b[i] - mean) ** 2;
  const se = Math.sqrt(ss / (n - 1) / n);
  if (se === 0) return mean === 0 ? 0 : mean > 0 ? Infinity : -Infinity;
  return mean / se;
}
