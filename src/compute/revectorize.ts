// 256-bit kernels on runtimes that can make them. WebAssembly SIMD is 128 bits wide, but V8 has a
// pass (--experimental-wasm-revectorize) that fuses pairs of v128 operations on adjacent memory
// into single 256-bit AVX2 ones. On Node ≥ 24 (V8 ≥ 13) for x64 it does so for the kernels' tiles,
// which then run faster (figures: docs/performance.md, `npm run bench -- --ab-wide`). The kernels
// then use their wide tiles (4 rows × 16 outputs, which need 8 ymm accumulators; without the pass
// the same tiles spill and run slower, hence the detection). Results are bit-identical either way: every output sums the same products in the
// same order.
//
// V8 flags are process-wide; this is the one place that sets one, before the kernels compile.
// Each thread decides once (the decision is memoised per thread, from the same inputs, so every
// thread decides alike), and the flag is only ever set to the same value.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

/** TRIPLET_WIDE_KERNELS: `auto` (default) uses them where detected, `on` forces, `off` never. */
export type WideChoice = 'auto' | 'on' | 'off';

export interface RuntimeFacts {
  arch: string;
  /** process.versions.v8 */
  v8: string;
  /** whether this Node was built with the pass (process.config v8_enable_wasm_simd256_revec:
   *  official x64 Linux builds of Node 22 and later; not Node 20, not arm64) */
  revecBuilt: boolean;
  /** the CPU's feature flags (Linux /proc/cpuinfo), or null where unknown */
  cpuFlags: readonly string[] | null;
}

function cpuFlags(): string[] | null {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => /^flags\s*:/.test(l));
    return line
      ? line
          .slice(line.indexOf(':') + 1)
          .trim()
          .split(/\s+/)
      : null;
  } catch {
    return null;
  }
}

export function runtimeFacts(): RuntimeFacts {
  const vars = process.config.variables as unknown as Record<string, unknown>;
  return {
    arch: process.arch,
    v8: process.versions.v8,
    revecBuilt: vars.v8_enable_wasm_simd256_revec === 1,
    cpuFlags: cpuFlags(),
  };
}

/**
 * Whether V8's revectorizer fuses the kernels here: built in, x64 with AVX2, and V8 13 or later.
 * V8 12 (Node 22) has the pass but leaves these loops at 128 bits (docs/decisions/0003). An unknown
 * CPU counts as no: the wide tiles would only be slower there.
 */
export function revectorizerAvailable(f: RuntimeFacts): boolean {
  const major = Number.parseInt(f.v8, 10);
  return f.revecBuilt && f.arch === 'x64' && major >= 13 && f.cpuFlags !== null && f.cpuFlags.includes('avx2');
}

export interface WideDecision {
  /** run the wide tiles */
  wide: boolean;
  /** turn V8's revectorizer on (only where this Node has it) */
  revectorize: boolean;
}

/** The decision alone (pure): `on` forces the wide tiles, and the pass wherever it is built in. */
export function decideWide(choice: WideChoice, f: RuntimeFacts): WideDecision {
  if (choice === 'off') return { wide: false, revectorize: false };
  if (choice === 'on') return { wide: true, revectorize: f.revecBuilt };
  const available = revectorizerAvailable(f);
  return { wide: available, revectorize: available };
}

const decided = new Map<WideChoice, boolean>();

/**
 * Decides, for this thread, whether kernels use their wide tiles, and turns V8's revectorizer on
 * when they do. Called before the kernel module compiles (loadKernelModule does). Idempotent.
 */
export function useWideKernels(choice: WideChoice = 'auto'): boolean {
  const known = decided.get(choice);
  if (known !== undefined) return known;
  const d = decideWide(choice, runtimeFacts());
  if (d.revectorize) v8.setFlagsFromString('--experimental-wasm-revectorize');
  decided.set(choice, d.wide);
  return d.wide;
}
