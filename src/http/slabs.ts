// How streamed uploads are cut into batches: each batch is staged as one chunk, so memory stays
// bounded by one slab whatever the upload's size.

/** Bytes of float32 per batch of a streamed upload: large enough to amortise a staged commit. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** Rows of rowBytes bytes that fit one batch (at least one). */
export function slabRows(rowBytes: number): number {
  return Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
}
