// The two products of the indexed triplet objective over a fixed n×d sample matrix X:
//   forward  Z (n×k) = X·Wᵀ, and   gradient  G (k×d) += C_Sᵀ·X_S over the touched rows S.
// With a backend that keeps rows resident (WebAssembly), X is copied in once, and so is Xᵀ in
// blocks of samples: both products then run on the backend's threads as row products against a
// few query rows (W's rows; Cᵀ's rows), with no per-evaluation copy of the data. The gradient's
// float32 sums span one block of samples; blocks are added in float64, in order, as the fused
// objective adds its slabs. Without residency, the backend's project and accumulate do the same.
import type { Kernels, ProjectionRows, ResidentRows, ResidentTriplets } from './kernels/types.js';
import type { DataArray } from './types.js';

/** Samples per block of the resident Xᵀ: the length of the gradient's float32 sums. */
export const SUM_BLOCK_ROWS = 4096;
/**
 * Below this many touched samples the gradient packs just those rows (kernels.accumulate) rather
 * than multiplying whole blocks of Xᵀ, most of whose columns would be zero.
 */
export const PACKED_GRADIENT_ROWS = 1024;

export interface SampleProducts {
  /** Z (n×k, row-major) = X·Wᵀ */
  project(W: Float64Array, k: number, Z: Float64Array): void;
  /**
   * Z = X·Wᵀ loaded into the backend's resident triplets, where its distances are taken without a
   * copy into JS; only with resident rows (undefined otherwise)
   */
  projectTo?(W: Float64Array, k: number, triplets: ResidentTriplets): ProjectionRows;
  /**
   * G (k×d) += Σ_{t < count} C[rows[t]]ᵀ·X[rows[t]]; rows ascending, and C's other rows zero (the
   * resident path multiplies whole blocks of C's rows, which saves transposing them)
   */
  accumulate(G: Float64Array, k: number, C: DataArray, rows: Int32Array, count: number): void;
  /** frees the resident copies; idempotent */
  dispose(): void;
}

export function sampleProducts(X: DataArray, n: number, d: number, kernels: Kernels): SampleProducts {
  if (!kernels.residentRows) {
    return {
      project: (W, k, Z) => kernels.project(W, k, d, X, n, Z),
      accumulate: (G, k, C, rows, count) => kernels.accumulate(G, k, d, C, X, rows, count),
      dispose: () => {},
    };
  }
  return residentProducts(X, n, d, kernels as Kernels & Required<Pick<Kernels, 'residentRows'>>);
}

function residentProducts(
  X: DataArray,
  n: number,
  d: number,
  kernels: Kernels & Required<Pick<Kernels, 'residentRows'>>,
): SampleProducts {
  const rows = kernels.residentRows(X, n, d);
  const blocks: ResidentRows[] = [];
  for (let t0 = 0; t0 < n; t0 += SUM_BLOCK_ROWS) {
    const t1 = Math.min(n, t0 + SUM_BLOCK_ROWS);
    // samples t0..t1 are a (t1 − t0)×d block whose columns are the rows of this block of Xᵀ
    blocks.push(kernels.residentRows(X.subarray(t0 * d, t1 * d), d, t1 - t0, true));
  }
  let disposed = false;
  const live = () => {
    if (disposed) throw new Error('sample products used after dispose()');
  };
  const projected = <T>(W: Float64Array, k: number, use: (values: DataArray, stride: number) => T): T => {
    live();
    const p = rows.against(W, k);
    try {
      const { values, stride } = p.block(0, n);
      return use(values, stride);
    } finally {
      p.dispose();
    }
  };
  return {
    project: (W, k, Z) => projected(W, k, (values, stride) => transposeInto(Z, values, k, n, stride)),
    projectTo: (W, k, triplets) => projected(W, k, (values, stride) => triplets.load(values, stride, k)),
    accumulate(G, k, C, list, count) {
      live();
      if (count < PACKED_GRADIENT_ROWS) return kernels.accumulate(G, k, d, C, X, list, count);
      // C's rows of samples outside the list are zero (the objective clears them), so a block's
      // coefficients are C's rows t0..t1 as they are: the kernel reads them as columns
      let t = 0;
      for (let b = 0; b < blocks.length && t < count; b++) {
        const t0 = b * SUM_BLOCK_ROWS;
        const nb = blocks[b].k;
        if (list[t] >= t0 + nb) continue;
        while (t < count && list[t] < t0 + nb) t++;
        addBlockProducts(G, k, d, blocks[b], C.subarray(t0 * k, (t0 + nb) * k));
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      rows.dispose();
      for (const b of blocks) b.dispose();
    },
  };
}

/** G (k×d) += (the block's C rows)ᵀ·(the block's Xᵀ rows)ᵀ, read as row products of Xᵀ against C's columns. */
function addBlockProducts(G: Float64Array, k: number, d: number, block: ResidentRows, Cb: DataArray): void {
  const p = block.against(Cb, k, true);
  try {
    const { values, stride } = p.block(0, d);
    for (let r = 0; r < k; r++) {
      const o = r * stride;
      const g = r * d;
      for (let j = 0; j < d; j++) G[g + j] += values[o + j];
    }
  } finally {
    p.dispose();
  }
}

/**
 * Z (n×k) = values (k rows of `stride`, the first n used)ᵀ: the brackets read Z by sample. Z is
 * written in order, sample by sample: the k cache lines of values one sample reads hold the next
 * fifteen samples' values too, so they stay cached; copying row by row of values wrote every value
 * to another line of Z instead.
 */
function transposeInto(Z: Float64Array, values: DataArray, k: number, n: number, stride: number): void {
  for (let i = 0; i < n; i++) {
    const z = i * k;
    for (let r = 0, o = i; r < k; r++, o += stride) Z[z + r] = values[o];
  }
}
