import type { DataArray } from '../types.js';

/**
 * The two dense products the triplet objective spends all its time in.
 * Batched over all rows (not per triplet) so a WebAssembly SIMD backend can
 * replace them with one call each instead of one call per triplet.
 */
export interface Kernels {
  readonly name: string;
  /** Y = X·Wᵀ: Y[i·k + r] = Σ_j W[r·d + j]·X[i·d + j] for i < m, r < k. */
  project(W: Float64Array, k: number, d: number, X: DataArray, m: number, Y: Float64Array): void;
  /**
   * G += C_Sᵀ·X_S over the listed rows S = rows[0..count):
   * G[r·d + j] += Σ_t C[rows[t]·k + r]·X[rows[t]·d + j].
   */
  accumulate(
    G: Float64Array,
    k: number,
    d: number,
    C: Float64Array,
    X: DataArray,
    rows: Int32Array,
    count: number,
  ): void;
}
