// Feature detection for the WebAssembly backend (pure: no I/O).

/** (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt): valid only where SIMD is. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** True when this runtime validates WebAssembly SIMD and can create a shared WebAssembly.Memory. */
export function wasmSimdSupported(): boolean {
  try {
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(SIMD_PROBE)) return false;
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}
