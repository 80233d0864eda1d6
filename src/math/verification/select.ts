// Exact order statistics of a multiset that is too large to hold but can be streamed again
// (impostor distances): each pass narrows every query to one histogram bin holding its rank,
// until the bin's values fit a budget (then they are kept and sorted) or are all equal.
import type { PairStream } from './pairs.js';

export interface SelectOptions {
  /** bins of each narrowing histogram */
  bins: number;
  /** a query's values are kept and sorted once at most this many remain in its range */
  budget: number;
}

export const DEFAULT_SELECT: SelectOptions = { bins: 4096, budget: 65536 };

export interface RankValue {
  /** the value of rank r (1-based, ascending, ties counted once each) */
  value: number;
  /** the largest value strictly below it, or null when none is */
  below: number | null;
}

interface Query {
  rank: number;
  /** the query's current range [lo, hi] holds `inside` values; `before` values lie below lo */
  lo: number;
  hi: number;
  before: number;
  inside: number;
  /** the largest value below lo (−∞ when none) */
  maxBefore: number;
  result: RankValue | null;
  hist: { count: Float64Array; min: Float64Array; max: Float64Array } | null;
  kept: Float64Array | null;
  keptLen: number;
}

const orNull = (v: number) => (v === -Infinity ? null : v);

/**
 * Values of ranks `ranks` (each in 1..total) of the `total` values `stream` yields, whose
 * minimum and maximum are `min` and `max`. Exact, ties included. Memory: 24·bins bytes per query
 * still narrowing and 8·budget per query being kept. Passes: 1 when total ≤ budget; otherwise
 * each narrowing pass leaves one bin (≈ total/bins values for smooth data), so typically 2–3.
 * The bin of x is ⌊(x − lo)/(hi − lo)·bins⌋ (capped at bins − 1): monotone in x under IEEE
 * rounding, so bins are contiguous ranges, lo falls in the first and hi in the last, and every
 * narrowing pass strictly shrinks the range's count (termination).
 */
export function selectRanks(
  stream: PairStream,
  total: number,
  min: number,
  max: number,
  ranks: readonly number[],
  opts: SelectOptions = DEFAULT_SELECT,
): { values: RankValue[]; passes: number } {
  const queries: Query[] = ranks.map((rank) => {
    if (!(Number.isInteger(rank) && rank >= 1 && rank <= total))
      throw new RangeError(`rank ${rank} outside 1..${total}`);
    return {
      rank,
      lo: min,
      hi: max,
      before: 0,
      inside: total,
      maxBefore: -Infinity,
      result: null,
      hist: null,
      kept: null,
      keptLen: 0,
    };
  });
  let passes = 0;
  for (;;) {
    const active = queries.filter((q) => settleIfTied(q));
    if (active.length === 0) break;
    for (const q of active) prepare(q, opts);
    passes++;
    stream((buf, len) => {
      for (const q of active) visit(q, buf, len, opts.bins);
    });
    for (const q of active) finish(q);
  }
  return { values: queries.map((q) => q.result as RankValue), passes };
}

/** Resolves a query whose range holds one value only; returns whether it still needs a pass. */
function settleIfTied(q: Query): boolean {
  if (q.result) return false;
  if (q.lo === q.hi) {
    q.result = { value: q.lo, below: orNull(q.maxBefore) };
    return false;
  }
  return true;
}

function prepare(q: Query, opts: SelectOptions): void {
  if (q.inside <= opts.budget) {
    q.kept = new Float64Array(q.inside);
    q.keptLen = 0;
    q.hist = null;
  } else {
    q.kept = null;
    q.hist = {
      count: new Float64Array(opts.bins),
      min: new Float64Array(opts.bins).fill(Infinity),
      max: new Float64Array(opts.bins).fill(-Infinity),
    };
  }
}

function visit(q: Query, buf: Float64Array, len: number, bins: number): void {
  const { lo, hi } = q;
  if (q.kept) {
    const kept = q.kept;
    for (let i = 0; i < len; i++) {
      const x = buf[i];
      if (x >= lo && x <= hi) kept[q.keptLen++] = x;
    }
    return;
  }
  const h = q.hist!;
  const scale = bins / (hi - lo);
  for (let i = 0; i < len; i++) {
    const x = buf[i];
    if (!(x >= lo && x <= hi)) continue;
    const b = Math.min(bins - 1, Math.floor((x - lo) * scale));
    h.count[b]++;
    if (x < h.min[b]) h.min[b] = x;
    if (x > h.max[b]) h.max[b] = x;
  }
}

function finish(q: Query): void {
  if (q.kept) {
    if (q.keptLen !== q.inside) throw new Error(`selectRanks: stream changed between passes`);
    const kept = q.kept.sort();
    const at = q.rank - q.before - 1;
    const value = kept[at];
    let first = at;
    while (first > 0 && kept[first - 1] === value) first--;
    q.result = { value, below: first > 0 ? kept[first - 1] : orNull(q.maxBefore) };
    q.kept = null;
    return;
  }
  const h = q.hist!;
  let before = q.before;
  for (let b = 0; b < h.count.length; b++) {
    const c = h.count[b];
    if (before + c >= q.rank) {
      q.lo = h.min[b];
      q.hi = h.max[b];
      q.before = before;
      q.inside = c;
      q.hist = null;
      return;
    }
    if (c > 0) q.maxBefore = h.max[b];
    before += c;
  }
  throw new Error(`selectRanks: stream changed between passes`);
}
