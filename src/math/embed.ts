// Embedding: the learned linear map applied to rows, optionally L2-normalised.
import type { Kernels } from './kernels/types.js';
import { NORM_EPSILON } from './losses.js';
import type { DataArray } from './types.js';

/**
 * out (n×k) = X (n×d) · Wᵀ, rows L2-normalised when asked (norm clamped at
 * NORM_EPSILON, so a zero embedding stays zero instead of becoming NaN).
 * With `kernels` that can prepare a projection (WebAssembly SIMD), the product runs there in
 * float32; otherwise in float64 here. For many calls with one W, use kernels.prepareProjection.
 */
export function embed(
  W: Float64Array,
  k: number,
  d: number,
  X: DataArray,
  n: number,
  normalize: boolean,
  out: DataArray,
  kernels?: Kernels,
): void {
  if (W.length !== k * d) throw new RangeError(`W has ${W.length} values, expected k·d = ${k * d}`);
  if (X.length < n * d) throw new RangeError(`X has ${X.length} values, expected n·d = ${n * d}`);
  if (out.length < n * k) throw new RangeError(`out has ${out.length} values, expected n·k = ${n * k}`);
  if (kernels?.prepareProjection) {
    const p = kernels.prepareProjection(W, k, d);
    try {
      p.embed(X, n, normalize, out);
    } finally {
      p.dispose();
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    const eo = i * k;
    let ss = 0;
    for (let r = 0; r < k; r++) {
      const wo = r * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += W[wo + j] * X[xo + j];
      out[eo + r] = s;
      ss += s * s;
    }
    if (!normalize) continue;
    const inv = 1 / Math.max(Math.sqrt(ss), NORM_EPSILON);
    for (let r = 0; r < k; r++) out[eo + r] *= inv;
  }
}
