// The k nearest seen so far of one query: a bounded max-heap on (distance, index).
//
// Why a heap and not a select (quickselect / argpartition): the distances arrive block by block
// and are never all in memory at once (a row of 1,000,000 float32 would be 4 MB a query, times
// the batch). The heap keeps O(k) a query, and its root is the bar a candidate must pass, so
// almost every distance costs one comparison against it; only ~k·ln(n/k) of n random items
// ever enter (the expected number of records), each in O(log k).

export class TopK {
  readonly dist: Float64Array;
  readonly idx: Int32Array;
  size = 0;

  constructor(readonly capacity: number) {
    this.dist = new Float64Array(capacity);
    this.idx = new Int32Array(capacity);
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  /** the k-th smallest distance so far (the root), or +∞ while the heap has room */
  get worst(): number {
    return this.size === this.capacity ? this.dist[0] : Infinity;
  }

  /** Keeps (d, i) if it is among the k smallest so far, ordered by distance then index. */
  offer(d: number, i: number): boolean {
    if (this.size < this.capacity) {
      this.siftUp(this.size++, d, i);
      return true;
    }
    if (!worse(this.dist[0], this.idx[0], d, i)) return false;
    this.siftDown(d, i);
    return true;
  }

  private siftUp(at: number, d: number, i: number): void {
    const { dist, idx } = this;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!worse(d, i, dist[parent], idx[parent])) break;
      dist[at] = dist[parent];
      idx[at] = idx[parent];
      at = parent;
    }
    dist[at] = d;
    idx[at] = i;
  }

  /** replaces the root with (d, i) and restores the heap */
  private siftDown(d: number, i: number): void {
    const { dist, idx, size } = this;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && worse(dist[child + 1], idx[child + 1], dist[child], idx[child])) child++;
      if (!worse(dist[child], idx[child], d, i)) break;
      dist[at] = dist[child];
      idx[at] = idx[child];
      at = child;
    }
    dist[at] = d;
    idx[at] = i;
  }
}

/** (da, ia) ranks after (db, ib): farther, or as far with a larger index */
export function worse(da: number, ia: number, db: number, ib: number): boolean {
  return da > db || (da === db && ia > ib);
}
