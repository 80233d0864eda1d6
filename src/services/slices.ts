// Work on the event loop in slices: a long computation over rows is cut into slices of a bounded
// number of multiply-adds, and the loop runs between them, so other requests and /healthz are
// answered meanwhile (docs/decisions/0029-serving-in-slices.md).

/** Rows a slice holds when each row costs `rowMacs` multiply-adds, at most `sliceMacs` a slice (at least one row). */
export const rowsPerSlice = (rowMacs: number, sliceMacs: number): number =>
  Math.max(1, Math.floor(sliceMacs / Math.max(1, rowMacs)));

/** step(from, to) over rows 0…n in slices of `per` rows, the event loop let run between slices. */
export async function inSlices(n: number, per: number, step: (from: number, to: number) => void): Promise<void> {
  for (let i = 0; i < n; i += per) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    step(i, Math.min(n, i + per));
  }
}
