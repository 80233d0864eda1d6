// The edge between the pure math core and the machine: picks the kernel backend, loads the
// WebAssembly module, creates the shared memory and the worker pool, and hands the core a
// `Kernels` object. src/math never reads files, the environment or starts threads.
import { availableParallelism } from 'node:os';
import { WasmHeap } from '../math/kernels/heap.js';
import { jsKernels } from '../math/kernels/js.js';
import { wasmSimdSupported } from '../math/kernels/simd.js';
import type { Kernels } from '../math/kernels/types.js';
import { createWasmKernels, type WasmKernels } from '../math/kernels/wasm.js';
import type { AsyncTaskRunner } from '../math/kernels/types.js';
import { createAsyncRunner, type AsyncRunner } from './async-runner.js';
import { loadKernelModule } from './module.js';
import { createPool, type ComputePool } from './pool.js';
import { useWideKernels } from './revectorize.js';

export { loadKernelModule, KERNELS_WASM_PATH } from './module.js';
export { createPool, type ComputePool } from './pool.js';
export { createAsyncRunner, type AsyncRunner } from './async-runner.js';
export { useWideKernels, decideWide, wideChoiceFromEnv, revectorizerAvailable, runtimeFacts, type WideChoice, type WideDecision, type RuntimeFacts } from './revectorize.js';

/** `auto`: WebAssembly SIMD when this runtime validates it (and the module is built), else JS. */
export type KernelChoice = 'auto' | 'js' | 'wasm';

/** 4 GiB: WebAssembly's 32-bit address space. */
const MAX_PAGES = 65536;

/** TRIPLET_KERNELS=js|wasm|auto (default auto). */
export function kernelChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): KernelChoice {
  const v = (env.TRIPLET_KERNELS ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'js' || v === 'wasm') return v;
  throw new RangeError(`TRIPLET_KERNELS must be js, wasm or auto (got ${JSON.stringify(env.TRIPLET_KERNELS)})`);
}

/** TRIPLET_THREADS (default: the machine's available parallelism). */
export function threadsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TRIPLET_THREADS;
  if (v === undefined || v.trim() === '') return Math.max(1, availableParallelism());
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1 && n <= 256)) throw new RangeError(`TRIPLET_THREADS must be an integer in 1..256 (got ${JSON.stringify(v)})`);
  return n;
}

/** Resolves `auto`; a forced `wasm` throws when the runtime or the build cannot provide it. */
export function resolveKernelChoice(choice: KernelChoice): 'js' | 'wasm' {
  if (choice === 'js') return 'js';
  const supported = wasmSimdSupported();
  if (choice === 'wasm') {
    if (!supported) throw new Error('TRIPLET_KERNELS=wasm but this runtime lacks WebAssembly SIMD or shared memory');
    loadKernelModule();
    return 'wasm';
  }
  if (!supported) return 'js';
  try {
    loadKernelModule();
    return 'wasm';
  } catch {
    return 'js';
  }
}

export function createSharedMemory(initialPages = 16): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
}

export interface Compute {
  readonly kernels: Kernels;
  readonly backend: 'js' | 'wasm';
  readonly threads: number;
  close(): Promise<void>;
}

export interface ComputeOptions {
  kernels?: KernelChoice;
  threads?: number;
  /** see WasmKernelOptions */
  residentBytes?: number;
  chunkRows?: number;
  earlyExit?: boolean;
  /** wide (256-bit) tiles; default: useWideKernels() (TRIPLET_WIDE_KERNELS and the runtime) */
  wide?: boolean;
}

/**
 * One backend (and, for WebAssembly with threads > 1, one worker pool) for a thread: training,
 * evaluation and embedding all go through `kernels`. Close it when done.
 * The JS fallback is single-threaded.
 */
export async function createCompute(opts: ComputeOptions = {}): Promise<Compute> {
  const backend = resolveKernelChoice(opts.kernels ?? 'auto');
  if (backend === 'js') return { kernels: jsKernels, backend, threads: 1, close: async () => {} };
  const threads = opts.threads ?? 1;
  const module = loadKernelModule();
  const memory = createSharedMemory();
  const heap = new WasmHeap(memory);
  let pool: ComputePool | null = null;
  if (threads > 1) pool = await createPool(module, memory, heap, threads);
  const kernels: WasmKernels = createWasmKernels({
    module,
    memory,
    heap,
    runner: pool ?? undefined,
    residentBytes: opts.residentBytes,
    chunkRows: opts.chunkRows,
    earlyExit: opts.earlyExit,
    wide: opts.wide ?? useWideKernels(),
  });
  return { kernels, backend, threads, close: async () => { if (pool) await pool.close(); } };
}

const local = new Map<string, Kernels>();

/**
 * Single-threaded kernels for this thread, created synchronously on first use and kept:
 * the HTTP thread embeds with these (it must never block on a pool).
 */
export function localKernels(choice: KernelChoice = 'auto'): Kernels {
  const backend = resolveKernelChoice(choice);
  let k = local.get(backend);
  if (!k) {
    if (backend === 'js') k = jsKernels;
    else {
      const memory = createSharedMemory();
      k = createWasmKernels({ module: loadKernelModule(), memory, heap: new WasmHeap(memory), wide: useWideKernels() });
    }
    local.set(backend, k);
  }
  return k;
}

/**
 * TRIPLET_EMBED_HELPERS: helper threads the HTTP thread hands large embedding batches to
 * (0 = compute inline; default: the machine's available parallelism, so every core can take a
 * batch while the event loop does the I/O).
 */
export function embedHelpersFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TRIPLET_EMBED_HELPERS;
  if (v === undefined || v.trim() === '') return Math.max(1, availableParallelism());
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 0 && n <= 64)) throw new RangeError(`TRIPLET_EMBED_HELPERS must be an integer in 0..64 (got ${JSON.stringify(v)})`);
  return n;
}

const serving = new Map<string, Kernels>();

/**
 * Kernels for the HTTP thread's serving routes: like localKernels (synchronous, never blocking),
 * plus, with WebAssembly and `helpers` > 0, helper threads — started on first use — that compute
 * large staged batches (Projection.embedStaged) while the event loop keeps serving sockets.
 * One per process and backend.
 */
export function servingKernels(choice: KernelChoice = 'auto', helpers = embedHelpersFromEnv()): Kernels {
  const backend = resolveKernelChoice(choice);
  if (backend === 'js') return jsKernels;
  const key = `${backend}:${helpers}`;
  let k = serving.get(key);
  if (!k) {
    const module = loadKernelModule();
    const memory = createSharedMemory();
    let runner: AsyncRunner | null = null;
    const lazy: AsyncTaskRunner = {
      run(op, args, tasks) {
        runner ??= createAsyncRunner(module, memory, helpers);
        return runner.run(op, args, tasks);
      },
    };
    k = createWasmKernels({ module, memory, heap: new WasmHeap(memory), asyncRunner: helpers > 0 ? lazy : undefined, wide: useWideKernels() });
    serving.set(key, k);
  }
  return k;
}
