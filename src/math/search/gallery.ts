// A gallery of n embeddings (k values each, row-major) prepared for exact search: checked once,
// squared norms computed once, and, when the kernels can keep rows (Kernels.residentRows), copied
// once into the kernels' memory so every search streams it without another copy.
import type { Kernels, ResidentRows, RowProducts } from '../kernels/types.js';
import type { DataArray } from '../types.js';
import { assertFiniteRows, assertShape } from './checks.js';
import { typedArrayProducts } from './products.js';

export interface Gallery {
  readonly n: number;
  readonly k: number;
  /** the rows as given (kept by reference for exact rescoring: they must not change) */
  readonly rows: DataArray;
  /** ‖eᵢ‖², float64 */
  readonly squaredNorms: Float64Array;
  /** the largest ‖eᵢ‖² (0 for an empty gallery): the exact search's screen is bounded by it */
  readonly maxSquaredNorm: number;
  /** 1/‖eᵢ‖, or 0 for a zero row (which cosine treats as orthogonal to everything); computed on first use */
  inverseNorms(): Float64Array;
  /** the largest 1/‖eᵢ‖ (0 when none is finite and positive); computed on first use */
  maxInverseNorm(): number;
  /** products of every row with q query rows (Q, q×k), by blocks of rows */
  against(Q: DataArray, q: number): RowProducts;
  /** the backend computing the products: the kernels' name, or `typescript` */
  readonly backend: string;
  /** frees the kernels' copy; idempotent */
  dispose(): void;
}

/** Checks E (n×k, every value finite: RangeError naming `gallery`) and prepares it. */
export function createGallery(E: DataArray, n: number, k: number, kernels?: Kernels): Gallery {
  assertShape('gallery', E, n, k);
  assertFiniteRows('gallery', E, n, k);
  const squaredNorms = new Float64Array(n);
  let maxSquaredNorm = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let r = 0; r < k; r++) s += E[i * k + r] * E[i * k + r];
    squaredNorms[i] = s;
    maxSquaredNorm = Math.max(maxSquaredNorm, s);
  }
  let inverse: Float64Array | null = null;
  let maxInverse = -1;
  const inverseNorms = () => (inverse ??= squaredNorms.map((s) => (s > 0 ? 1 / Math.sqrt(s) : 0)));
  let resident: ResidentRows | null = kernels?.residentRows ? kernels.residentRows(E, n, k) : null;
  let disposed = false;
  return {
    n,
    k,
    rows: E,
    squaredNorms,
    maxSquaredNorm,
    backend: resident ? (kernels?.name ?? 'kernels') : 'typescript',
    inverseNorms,
    maxInverseNorm() {
      if (maxInverse < 0) maxInverse = inverseNorms().reduce((a, b) => Math.max(a, b), 0);
      return maxInverse;
    },
    against(Q: DataArray, q: number) {
      if (disposed) throw new Error('gallery used after dispose()');
      return resident ? resident.against(Q, q) : typedArrayProducts(E, n, k, Q, q);
    },
    dispose() {
      disposed = true;
      resident?.dispose();
      resident = null;
    },
  };
}
