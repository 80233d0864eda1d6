// Loads the compiled AssemblyScript kernels (built by `npm run build:wasm`). The .wasm sits next
// to its source, src/math/kernels/wasm/kernels.wasm, and the build copies it to the same place
// under dist/, so this relative URL works from the .ts sources (tsx) and from dist/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useWideKernels } from './revectorize.js';

export const KERNELS_WASM_PATH = fileURLToPath(new URL('../math/kernels/wasm/kernels.wasm', import.meta.url));

let cached: WebAssembly.Module | null = null;

/** The compiled kernel module (compiled once per thread). Throws when the .wasm is missing. */
export function loadKernelModule(): WebAssembly.Module {
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = readFileSync(KERNELS_WASM_PATH);
  } catch (e) {
    throw new Error(`WebAssembly kernels not built (${KERNELS_WASM_PATH}): run \`npm run build:wasm\` (${(e as Error).message})`);
  }
  // V8 reads its revectorizer flag when it optimises the module's functions: set it first. A bad
  // TRIPLET_WIDE_KERNELS is not this function's to report (it would turn `auto` kernels into the
  // JS fallback): loadConfig and the kernels' constructors read it again and throw.
  try {
    useWideKernels();
  } catch {
    // reported elsewhere
  }
  cached = new WebAssembly.Module(bytes);
  return cached;
}
