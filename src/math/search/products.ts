// Row products in TypeScript, for kernels without `residentRows` (the JS backend, and tests).
//
// The JS backend has no memory of its own to keep a gallery in and no thread pool, so this is a
// plain loop over the caller's typed arrays: float64 accumulation, one thread, query by query. A 2×4
// register tile like kernels/js.ts would gain ~1.5×; the WebAssembly path is the fast one.
import type { RowProducts } from '../kernels/types.js';
import type { DataArray } from '../types.js';

/** RowProducts over E (n×k) and Q (q×k), both left in place (neither may change while in use). */
export function typedArrayProducts(E: DataArray, n: number, k: number, Q: DataArray, q: number): RowProducts {
  let out = new Float64Array(0);
  return {
    block(r0: number, r1: number) {
      if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= n))
        throw new RangeError(`block [${r0}, ${r1}) is not within [0, ${n})`);
      const m = r1 - r0;
      if (out.length < m * q) out = new Float64Array(m * q);
      for (let j = 0; j < q; j++) {
        const qo = j * k;
        for (let i = 0; i < m; i++) {
          const eo = (r0 + i) * k;
          let s = 0;
          for (let r = 0; r < k; r++) s += E[eo + r] * Q[qo + r];
          out[j * m + i] = s;
        }
      }
      return { values: out.subarray(0, m * q), stride: m };
    },
    dispose() {
      out = new Float64Array(0);
    },
  };
}
