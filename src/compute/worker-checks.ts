// What the training worker checks on a finished run and on a failure: a model is stored only when
// every weight and the loss are finite and W fits float32 (serving and export are float32), and an
// allocation that the job's allowance refused is reported as OUT_OF_MEMORY.

import {
  firstUnsafeRow,
  firstUnsafeEmbedding,
  FLOAT32_MAX,
  largestRowSum,
  largestSafeValue,
} from '../math/embedding-range.js';
import type { Kernels } from '../math/kernels/types.js';
import type { DataArray } from '../math/types.js';

/** Throws NON_FINITE_TRAINING unless the loss is finite and every |w| ≤ FLOAT32_MAX (beyond it a weight is served as Infinity). */
export function checkTrainedW(W: Float64Array, loss: number): void {
  if (!Number.isFinite(loss)) {
    throw Object.assign(
      new Error(
        `the training loss stopped being a finite number (${loss}); the data's scale overflows the computation: rescale the vectors`,
      ),
      { code: 'NON_FINITE_TRAINING' },
    );
  }
  for (let i = 0; i < W.length; i++) {
    const w = W[i];
    if (!(Math.abs(w) <= FLOAT32_MAX)) {
      throw Object.assign(
        new Error(
          `the learned W has ${w} at index ${i}, ${Number.isFinite(w) ? 'beyond the float32 range' : 'not a finite number'}; the data's scale is out of range: rescale the vectors`,
        ),
        { code: 'NON_FINITE_TRAINING' },
      );
    }
  }
}

/** Rows of one input to check: X (n×d), named `what` in the error. */
export interface EmbeddableRows {
  X: DataArray;
  n: number;
  what: string;
}

/**
 * Throws NON_FINITE_VALUE when the model maps a row of any of `inputs` past the range where
 * distances between embeddings are finite float32 (src/math/embedding-range.ts), naming the input
 * and the row. W's row sums are taken once for all of them.
 */
export function checkEmbeddable(
  W: Float64Array,
  k: number,
  d: number,
  inputs: readonly EmbeddableRows[],
  kernels?: Kernels,
): void {
  const rowSum = largestRowSum(W, k, d);
  for (const { X, n, what } of inputs) {
    const row = firstUnsafeRow(W, k, d, X, n, kernels, rowSum);
    if (row < 0) continue;
    throw Object.assign(
      new Error(
        `the model maps ${what} row ${row} to values past ±${largestSafeValue(k).toPrecision(3)}, where distances between ` +
          'embeddings overflow float32: the figures would not be numbers; rescale the inputs or the model',
      ),
      { code: 'NON_FINITE_VALUE' },
    );
  }
}

/** The same for n stored k-dimensional embeddings (a gallery's items). */
export function checkEmbeddings(E: Float32Array, n: number, k: number, what: string): void {
  const bad = firstUnsafeEmbedding(E, n, k);
  if (bad)
    throw Object.assign(
      new Error(
        `${what} item ${bad.row} has embedding value ${bad.value}, past ±${bad.safe.toPrecision(3)}, where distances ` +
          'between embeddings overflow float32: the figures would not be numbers',
      ),
      { code: 'NON_FINITE_VALUE' },
    );
}

/** Whether a mined run stopped on a non-finite step (trainMined keeps the last finite W and warns). */
export function nonFiniteRun(warnings: readonly string[]): boolean {
  return warnings.some((w) => w.startsWith('non-finite loss or gradient'));
}

/**
 * An allocation refused for memory: the WebAssembly heap at its maximum (the job's allowance) or
 * a typed array V8 could not back. Returned as OUT_OF_MEMORY; anything else is undefined.
 */
export function memoryError(e: unknown): (Error & { code: string }) | undefined {
  if (!(e instanceof RangeError)) return undefined;
  if (!/WebAssembly memory exhausted|could not grow WebAssembly memory|Array buffer allocation failed/i.test(e.message))
    return undefined;
  return Object.assign(new Error(`the job ran out of its memory allowance: ${e.message}`), { code: 'OUT_OF_MEMORY' });
}
