// Triplet miners over one batch's distance matrix (B×B row-major, from any Distance: the miners
// only compare distances, so they hold for every one whose larger value means farther).
// Pure, allocation-free once the TripletBuffer has grown to the batch's needs.
// Ties between equal distances go to the lowest index, so mining is deterministic.
import type { MiningName } from './types.js';

/** One miner: fills `out` with triplets of the batch (labels[0..B)) chosen from its distances D. */
export interface Miner {
  readonly name: 'semihard' | 'batchhard' | 'none';
  mine(D: Float64Array, labels: Int32Array, B: number, out: TripletBuffer): void;
}

/** Triplets (a, p, n) as indices into the batch; `count` of them are valid. Grows, never shrinks. */
export class TripletBuffer {
  a: Int32Array;
  p: Int32Array;
  n: Int32Array;
  count = 0;
  constructor(capacity = 0) {
    this.a = new Int32Array(capacity);
    this.p = new Int32Array(capacity);
    this.n = new Int32Array(capacity);
  }
  /** Makes room for `capacity` triplets (one reallocation when the batch needs more than before). */
  ensure(capacity: number): void {
    if (capacity <= this.a.length) return;
    const c = Math.max(capacity, 2 * this.a.length);
    this.a = new Int32Array(c);
    this.p = new Int32Array(c);
    this.n = new Int32Array(c);
  }
  push(a: number, p: number, n: number): void {
    const i = this.count++;
    this.a[i] = a;
    this.p[i] = p;
    this.n[i] = n;
  }
}

/** Number of valid triplets of a batch: Σ_a (#positives of a)·(#negatives of a). */
export function countValidTriplets(labels: Int32Array, B: number): number {
  let total = 0;
  for (let a = 0; a < B; a++) {
    let same = 0;
    for (let j = 0; j < B; j++) if (labels[j] === labels[a]) same++;
    total += (same - 1) * (B - same);
  }
  return total;
}

/**
 * Semi-hard mining as TF-Addons' triplet_semihard_loss (FaceNet, Schroff et al. 2015):
 * for every positive pair (a, p), a ≠ p, the negative n with the smallest d(a,n) among those with
 * d(a,n) > d(a,p); if the pair has no such negative, the anchor's largest d(a,n) ("negatives_inside").
 * Negatives beyond d(a,p) + margin are kept: the hinge gives them loss 0, exactly as in TF-Addons,
 * so d(a,p) < d(a,n) < d(a,p) + margin is what makes a mined triplet active.
 * Anchors without any negative (one-label batch) or without positives yield no triplet.
 * At most B·(B−1) triplets.
 */
export function mineSemihard(D: Float64Array, labels: Int32Array, B: number, out: TripletBuffer): void {
  out.count = 0;
  out.ensure(B * Math.max(B - 1, 0));
  for (let a = 0; a < B; a++) {
    const ao = a * B;
    const la = labels[a];
    // the anchor's easiest (largest) negative, the fallback
    let far = -1;
    let farD = -Infinity;
    for (let n = 0; n < B; n++) {
      if (labels[n] === la) continue;
      if (D[ao + n] > farD) {
        farD = D[ao + n];
        far = n;
      }
    }
    if (far < 0) continue;
    for (let p = 0; p < B; p++) {
      if (p === a || labels[p] !== la) continue;
      const dap = D[ao + p];
      let best = -1;
      let bestD = Infinity;
      for (let n = 0; n < B; n++) {
        if (labels[n] === la) continue;
        const dan = D[ao + n];
        if (dan > dap && dan < bestD) {
          bestD = dan;
          best = n;
        }
      }
      out.push(a, p, best >= 0 ? best : far);
    }
  }
}

/**
 * Batch-hard mining (Hermans, Beyer & Leibe 2017): for every anchor with at least one positive and
 * one negative, its farthest positive and its closest negative. At most B triplets.
 */
export function mineBatchHard(D: Float64Array, labels: Int32Array, B: number, out: TripletBuffer): void {
  out.count = 0;
  out.ensure(B);
  for (let a = 0; a < B; a++) {
    const ao = a * B;
    const la = labels[a];
    let hp = -1;
    let hpD = -Infinity;
    let hn = -1;
    let hnD = Infinity;
    for (let j = 0; j < B; j++) {
      if (j === a) continue;
      const dj = D[ao + j];
      if (labels[j] === la) {
        if (dj > hpD) {
          hpD = dj;
          hp = j;
        }
      } else if (dj < hnD) {
        hnD = dj;
        hn = j;
      }
    }
    if (hp >= 0 && hn >= 0) out.push(a, hp, hn);
  }
}

/** Every valid triplet of the batch (no mining), in (a, p, n) lexicographic order. */
export function mineAll(labels: Int32Array, B: number, out: TripletBuffer): void {
  out.count = 0;
  out.ensure(countValidTriplets(labels, B));
  for (let a = 0; a < B; a++) {
    const la = labels[a];
    for (let p = 0; p < B; p++) {
      if (p === a || labels[p] !== la) continue;
      for (let n = 0; n < B; n++) if (labels[n] !== la) out.push(a, p, n);
    }
  }
}

export const semihardMiner: Miner = Object.freeze({ name: 'semihard' as const, mine: mineSemihard });
export const batchHardMiner: Miner = Object.freeze({ name: 'batchhard' as const, mine: mineBatchHard });
export const allTripletsMiner: Miner = Object.freeze({
  name: 'none' as const,
  mine: (_D: Float64Array, labels: Int32Array, B: number, out: TripletBuffer) => mineAll(labels, B, out),
});

/** Miner names for a mining option, in the order their losses are summed. */
export function minersOf(mining: MiningName): Array<Miner['name']> {
  switch (mining) {
    case 'semihard':
      return ['semihard'];
    case 'batchhard':
      return ['batchhard'];
    case 'semihard+batchhard':
      return ['semihard', 'batchhard'];
    case 'none':
      return ['none'];
    default:
      throw new RangeError(`unknown mining ${String(mining)}`);
  }
}

/** The miners of a mining option. */
export function createMiners(mining: MiningName): Miner[] {
  return minersOf(mining).map((m) =>
    m === 'semihard' ? semihardMiner : m === 'batchhard' ? batchHardMiner : allTripletsMiner,
  );
}
