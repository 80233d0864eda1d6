// 256-bit kernels on runtimes that can make them. WebAssembly SIMD is 128 bits wide, but V8 has a
// pass (--experimental-wasm-revectorize) that fuses pairs of v128 operations on adjacent memory
// into single 256-bit AVX2 ones. On Node ≥ 24 (V8 ≥ 13) for x64 it does so for the kernels' tiles
// and doubles their width: the training step ran ~1.7× faster on one core (`npm run bench -- --ab-wide`, README
// "Wide kernels"). The kernels then use their wide tiles (4 rows × 16 outputs, which need 8 ymm
// accumulators; without the pass the same tiles spill and run ~2× slower, hence the detection).
// Results are bit-identical either way: every output sums the same products in the same order.
//
// The flag is process-wide in V8, so this is the one place that sets it, before kernels compile.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

/** TRIPLET_WIDE_KERNELS: `auto` (default) uses them where detected, `on` forces, `off` never. */
export type WideChoice = 'auto' | 'on' | 'off';

export function wideChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): WideChoice {
  const v = (env.TRIPLET_WIDE_KERNELS ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'on' || v === 'off') return v;
  throw new RangeError(`TRIPLET_WIDE_KERNELS must be auto, on or off (got ${JSON.stringify(env.TRIPLET_WIDE_KERNELS)})`);
}

export interface RuntimeFacts {
  arch: string;
  /** process.versions.v8 */
  v8: string;
  /** the CPU's feature flags (Linux /proc/cpuinfo), or null where unknown */
  cpuFlags: readonly string[] | null;
}

function cpuFlags(): string[] | null {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => /^flags\s*:/.test(l));
    return line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : null;
  } catch {
    return null;
  }
}

export function runtimeFacts(): RuntimeFacts {
  return { arch: process.arch, v8: process.versions.v8, cpuFlags: cpuFlags() };
}

/**
 * Whether V8's revectorizer fuses the kernels here: x64 with AVX2 and V8 13 or later. V8 12
 * (Node 22) has the flag but left these loops at 128 bits (measured: no change), and V8 11
 * (Node 20) rejects it. An unknown CPU counts as no: the wide tiles would only be slower there.
 */
export function revectorizerAvailable(f: RuntimeFacts): boolean {
  const major = Number.parseInt(f.v8, 10);
  return f.arch === 'x64' && major >= 13 && f.cpuFlags !== null && f.cpuFlags.includes('avx2');
}

/**
 * Decides, for this process, whether kernels use their wide tiles, and turns V8's revectorizer on
 * when they do. Call before the kernel module compiles (loadKernelModule does). Idempotent.
 */
export function useWideKernels(choice: WideChoice = wideChoiceFromEnv(), facts: RuntimeFacts = runtimeFacts()): boolean {
  if (choice === 'off') return false;
  const available = revectorizerAvailable(facts);
  if (choice === 'auto' && !available) return false;
  // V8 11 (Node 20) has no such flag and would print "unrecognized flag": there `on` gives the
  // wide tiles alone, which compute the same values, only slower
  if (Number.parseInt(process.versions.v8, 10) >= 12) v8.setFlagsFromString('--experimental-wasm-revectorize');
  return true;
}
