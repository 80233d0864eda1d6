// The edge between the pure math core and the machine: picks the kernel backend, loads the
// WebAssembly module, creates the shared memory and the worker pool, and hands the core a
// `Kernels` object. src/math never reads files, the environment or starts threads.
import { WasmHeap } from '../math/kernels/heap.js';
import { jsKernels } from '../math/kernels/js.js';
import { wasmSimdSupported } from '../math/kernels/simd.js';
import type { Kernels } from '../math/kernels/types.js';
import { createWasmKernels, type WasmKernels } from '../math/kernels/wasm.js';
import type { AsyncTaskRunner } from '../math/kernels/types.js';
import { createAsyncRunner, type AsyncRunner } from './async-runner.js';
import { loadKernelModule } from './module.js';
import { createPool, type ComputePool, type StartedHelpers } from './pool.js';
import { useWideKernels, type WideChoice } from './revectorize.js';

export { loadKernelModule, KERNELS_WASM_PATH } from './module.js';
export { createPool, startHelpers, type ComputePool, type StartedHelpers } from './pool.js';
export { createAsyncRunner, type AsyncRunner } from './async-runner.js';
export {
  useWideKernels,
  decideWide,
  revectorizerAvailable,
  runtimeFacts,
  type WideChoice,
  type WideDecision,
  type RuntimeFacts,
} from './revectorize.js';

/** `auto`: WebAssembly SIMD when this runtime validates it (and the module is built), else JS. */
export type KernelChoice = 'auto' | 'js' | 'wasm';

/** How the kernels run (TRIPLET_KERNELS, TRIPLET_THREADS, TRIPLET_EMBED_HELPERS, TRIPLET_WIDE_KERNELS, read by config.ts). */
export interface ComputeSettings {
  kernels: KernelChoice;
  /** threads of one training job or evaluation */
  threads: number;
  /** helper threads for large /embed batches (0 = inline) */
  embedHelpers: number;
  wide: WideChoice;
}

/** 4 GiB: WebAssembly's 32-bit address space. */
const MAX_PAGES = 65536;

/** Resolves `auto`; a forced `wasm` throws when the runtime or the build cannot provide it. */
export function resolveKernelChoice(choice: KernelChoice, wide: WideChoice = 'auto'): 'js' | 'wasm' {
  if (choice === 'js') return 'js';
  const supported = wasmSimdSupported();
  if (choice === 'wasm') {
    if (!supported) throw new Error('TRIPLET_KERNELS=wasm but this runtime lacks WebAssembly SIMD or shared memory');
    loadKernelModule(wide);
    return 'wasm';
  }
  if (!supported) return 'js';
  try {
    loadKernelModule(wide);
    return 'wasm';
  } catch {
    return 'js';
  }
}

/** WebAssembly pages that hold `bytes` bytes, within the 32-bit address space. */
export function pagesFor(bytes: number): number {
  return Math.max(1, Math.min(MAX_PAGES, Math.ceil(bytes / 65536)));
}

/** `maxBytes`: the memory can never grow past it (a training job's allowance); default 4 GiB. */
export function createSharedMemory(initialPages = 16, maxBytes = MAX_PAGES * 65536): WebAssembly.Memory {
  const maximum = pagesFor(maxBytes);
  return new WebAssembly.Memory({ initial: Math.min(initialPages, maximum), maximum, shared: true });
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
  /** wide (256-bit) tiles: TRIPLET_WIDE_KERNELS; `auto` (default) where the runtime fuses them */
  wide?: WideChoice;
  /** bytes the WebAssembly memory may grow to (a job's allowance); past it allocations throw RangeError */
  maxMemoryBytes?: number;
  /** the pool's helper threads, started earlier (startHelpers); stopped when not used */
  helpers?: StartedHelpers;
}

/**
 * One backend (and, for WebAssembly with threads > 1, one worker pool) for a thread: training,
 * evaluation and embedding all go through `kernels`. Close it when done.
 * The JS fallback is single-threaded.
 */
export async function createCompute(opts: ComputeOptions = {}): Promise<Compute> {
  const wide = opts.wide ?? 'auto';
  const backend = resolveKernelChoice(opts.kernels ?? 'auto', wide);
  const threads = backend === 'js' ? 1 : (opts.threads ?? 1);
  if (threads === 1) await opts.helpers?.stop();
  if (backend === 'js') return { kernels: jsKernels, backend, threads: 1, close: async () => {} };
  const module = loadKernelModule(wide);
  const maxBytes = pagesFor(opts.maxMemoryBytes ?? MAX_PAGES * 65536) * 65536;
  const memory = createSharedMemory(16, maxBytes);
  const heap = new WasmHeap(memory, undefined, maxBytes);
  let pool: ComputePool | null = null;
  if (threads > 1) pool = await createPool(module, memory, heap, threads, opts.helpers);
  const kernels: WasmKernels = createWasmKernels({
    module,
    memory,
    heap,
    runner: pool ?? undefined,
    residentBytes: opts.residentBytes,
    chunkRows: opts.chunkRows,
    earlyExit: opts.earlyExit,
    wide: useWideKernels(wide),
  });
  return {
    kernels,
    backend,
    threads,
    close: async () => {
      if (pool) await pool.close();
    },
  };
}

const local = new Map<string, Kernels>();

/**
 * Single-threaded kernels for this thread, created synchronously on first use and kept:
 * the HTTP thread embeds with these (it must never block on a pool).
 */
export function localKernels(choice: KernelChoice = 'auto', wide: WideChoice = 'auto'): Kernels {
  const backend = resolveKernelChoice(choice, wide);
  let k = local.get(backend);
  if (!k) {
    if (backend === 'js') k = jsKernels;
    else {
      const memory = createSharedMemory();
      k = createWasmKernels({
        module: loadKernelModule(wide),
        memory,
        heap: new WasmHeap(memory),
        wide: useWideKernels(wide),
      });
    }
    local.set(backend, k);
  }
  return k;
}

/**
 * Kernels for the HTTP thread's serving routes: like localKernels (synchronous, never blocking),
 * plus, with WebAssembly and `embedHelpers` > 0, helper threads — started on first use — that
 * compute large staged batches (Projection.embedStaged) while the event loop keeps serving
 * sockets. The app owns it and closes it (ending the helpers) when it closes.
 */
export function createServingCompute(s: Pick<ComputeSettings, 'kernels' | 'embedHelpers' | 'wide'>): Compute {
  const backend = resolveKernelChoice(s.kernels, s.wide);
  if (backend === 'js') return { kernels: jsKernels, backend, threads: 1, close: async () => {} };
  const module = loadKernelModule(s.wide);
  const memory = createSharedMemory();
  let runner: AsyncRunner | null = null;
  let closed = false;
  const lazy: AsyncTaskRunner = {
    run(op, args, tasks) {
      if (closed) return Promise.reject(new Error('the serving kernels are closed'));
      runner ??= createAsyncRunner(module, memory, s.embedHelpers);
      return runner.run(op, args, tasks);
    },
  };
  const asyncRunner = s.embedHelpers > 0 ? lazy : undefined;
  const kernels = createWasmKernels({
    module,
    memory,
    heap: new WasmHeap(memory),
    asyncRunner,
    wide: useWideKernels(s.wide),
  });
  return {
    kernels,
    backend,
    threads: 1 + s.embedHelpers,
    close: async () => {
      closed = true;
      await runner?.close();
    },
  };
}
