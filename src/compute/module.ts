// Loads the compiled AssemblyScript kernels (built by `npm run build:wasm`). The .wasm sits next
// to its source, src/math/kernels/wasm/kernels.wasm, and the build copies it to the same place
// under dist/, so this relative URL works from the .ts sources (tsx) and from dist/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useWideKernels, type WideChoice } from './revectorize.js';

export const KERNELS_WASM_PATH = fileURLToPath(new URL('../math/kernels/wasm/kernels.wasm', import.meta.url));

let cached: WebAssembly.Module | null = null;

/**
 * The compiled kernel module (compiled once per thread). Throws when the .wasm is missing.
 * `wide`: TRIPLET_WIDE_KERNELS, which decides whether V8's revectorizer is on when it compiles.
 */
export function loadKernelModule(wide: WideChoice = 'auto'): WebAssembly.Module {
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = readFileSync(KERNELS_WASM_PATH);
  } catch (e) {
    throw new Error(
      `WebAssembly kernels not built (${KERNELS_WASM_PATH}): run \`npm run build:wasm\` (${(e as Error).message})`,
      { cause: e },
    );
  }
  // V8 reads its revectorizer flag when it optimises the module's functions: set it first.
  useWideKernels(wide);
  cached = new WebAssembly.Module(bytes);
  return cached;
}
