// The sample indices of a dataset's triplet chunks, joined in chunk order, the same on every
// backend. Pure: the backends read the chunks.

/** One committed triplet chunk: its row count and its sample indices (null: uploaded as vectors). */
export interface RefChunk {
  count: number;
  refs: Uint8Array | null;
}

/** count × 3 int32 over all chunks; null when there are none or one was uploaded as vectors. */
export function concatRefs(chunks: RefChunk[]): Int32Array | null {
  if (chunks.length === 0 || chunks.some((c) => c.refs === null)) return null;
  const total = chunks.reduce((s, c) => s + c.count, 0);
  const out = new Int32Array(3 * total);
  let at = 0;
  for (const c of chunks) {
    const bytes = c.refs!;
    if (bytes.byteLength !== c.count * 12)
      throw new Error(`corrupt triplet chunk: ${c.count} rows, ${bytes.byteLength} bytes of indices`);
    // through a byte view: a blob or bytea Buffer need not be 4-byte aligned
    new Uint8Array(out.buffer, at * 4, bytes.byteLength).set(bytes);
    at += 3 * c.count;
  }
  return out;
}
