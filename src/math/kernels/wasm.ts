// WebAssembly SIMD backend: TypeScript side of the AssemblyScript kernels in ./wasm/kernels.ts.
// Pure: it receives a compiled WebAssembly.Module, the (shared) memory, a heap over that memory
// and a TaskRunner; loading the .wasm file and starting threads happen outside src/math
// (src/compute).
//
// Precision (float32 storage, see README "Kernels"):
//   * data rows, W (rounded from float64 once per evaluation), projections and gradient tiles
//     are float32; every dot product over d and every gradient tile over a chunk's active rows
//     accumulates in float32 (f32x4 lanes, mul+add);
//   * per-slab gradients are float32 partials summed into float64 in slab order; squared norms,
//     brackets, the loss and the counts are float64.
//   Against the float64 reference this gives ~1e-7–1e-6 relative error in loss and gradient
//   (tests hold it to 1e-5 on random cases and the shared fixtures).
//
// Determinism: the m rows are split into a fixed number of slabs that depends only on the sizes;
// each slab is computed by one thread, start to end, into its own partial gradient, and partials
// are summed in slab order. The thread count changes who computes a slab, never what it computes.
import type { TripletObjective } from '../losses.js';
import type { DataArray, LossOptions, LossValue, TripletSet } from '../types.js';
import { type WasmHeap, align } from './heap.js';
import {
  NonFiniteInputError,
  inlineRunner,
  type AsyncTaskRunner,
  type Kernels,
  type Projection,
  type ProjectionRows,
  type ResidentRows,
  type ResidentTriplets,
  type RowProducts,
  type StagedRows,
  type TaskRunner,
} from './types.js';

export const OP_SQUARED = 1;
export const OP_NORMALIZED = 2;
export const OP_REDUCE = 3;
export const OP_PROJECT = 4;
export const OP_EMBED = 5;
export const OP_COLUMNS = 6;
export const OP_TRANSPOSE = 7;
export const OP_DISTANCES = 8;
export const OP_COEFFICIENTS = 9;
/** Or'ed into an op: run the wide tiles (kernels.ts WIDE). Same results, bit for bit. */
export const OP_WIDE = 0x100;

/** n·k·d multiply-adds from which Projection.embedStaged hands the product to the async runner. */
export const ASYNC_MIN_WORK = 1 << 20;

/** Rows per fused chunk: a chunk's rows and projections stay in L2 between forward and gradient. */
export const DEFAULT_CHUNK_ROWS = 64;
/** Default budget for resident training data in WebAssembly memory; larger sets are staged in parts. */
export const DEFAULT_RESIDENT_BYTES = 3 * 1024 * 1024 * 1024;
const MAX_SLABS = 8;
/** Scratch for copyIntoShared: 64 KB, one socket read. */
const BOUNCE_BYTES = 64 * 1024;
const MIN_SLAB_ROWS = 1024;
/** Partial gradients may take at most this much memory (limits the slab count for huge k·d). */
const PARTIALS_BUDGET = 256 * 1024 * 1024;
/**
 * Panels of resident rows per task of RowProducts.block: 32 panels of 8 rows (128 KiB at k = 128)
 * leave a task's share of the queries' products in L2, and a block of a few thousand rows still
 * makes enough tasks for every thread of the pool.
 */
export const RESIDENT_TASK_PANELS = 32;
/**
 * Multiply-adds below which RowProducts.block runs on the calling thread: waking the pool's
 * helpers costs tens of µs on an idle machine and milliseconds on a loaded one, more than
 * ~1M multiply-adds (~0.1 ms) take.
 */
export const RESIDENT_POOL_MIN_WORK = 1 << 20;

interface KernelExports {
  runTask(op: number, args: number, task: number, thread: number): void;
  accumulate(
    G: number,
    kp: number,
    ld: number,
    C: number,
    cq: number,
    Xp: number,
    ss: number,
    s: number,
    wide: number,
  ): void;
}

export interface WasmKernelOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  heap: WasmHeap;
  runner?: TaskRunner;
  /** a helper thread for Projection.embedStaged (the HTTP thread's kernels); else inline */
  asyncRunner?: AsyncTaskRunner;
  /** bytes of training rows kept resident; bigger sets are copied in part by part each evaluation */
  residentBytes?: number;
  chunkRows?: number;
  /** squared hinged loss: stop a negative's projection once it proves the triplet inactive
   *  (kernels.ts projectNegatives; same results either way). Default true. */
  earlyExit?: boolean;
  /** use the wide (4×16) tiles: only where V8 fuses v128 pairs into 256-bit operations
   *  (src/compute/revectorize.ts decides); elsewhere they spill and run slower. Same
   *  results either way (only lastEarlyExits may differ: the early exit checks after pairs of
   *  panels). Default false. */
  wide?: boolean;
}

export interface WasmKernels extends Kernels {
  readonly threads: number;
  readonly heap: WasmHeap;
  createObjective(set: TripletSet, opts: LossOptions): WasmObjective;
  prepareProjection(W: DataArray, k: number, d: number): Projection;
  gram(Ea: DataArray, na: number, Eb: DataArray, nb: number, k: number, out: Float64Array): void;
  stage(bytes: number): StagedRows;
  residentRows(E: DataArray, n: number, k: number, transposed?: boolean): ResidentRows;
  residentTriplets(refs: Int32Array, m: number, n: number): ResidentTriplets;
}

export interface WasmObjective extends TripletObjective {
  /** parts the data is staged in per evaluation (1 = resident) */
  readonly parts: number;
  /** bytes of WebAssembly memory the objective holds */
  readonly bytes: number;
  /** triplets of the last evaluation whose negative projection stopped early (proved inactive) */
  readonly lastEarlyExits: number;
  dispose(): void;
}

export const ceil8 = (n: number) => Math.ceil(n / 8) * 8;

/** Cached typed-array views, refreshed when the memory grows. */
class Views {
  private len = -1;
  f32!: Float32Array;
  f64!: Float64Array;
  u32!: Uint32Array;
  u8!: Uint8Array;
  constructor(private readonly memory: WebAssembly.Memory) {
    this.refresh();
  }
  refresh(): this {
    const buf = this.memory.buffer;
    if (buf.byteLength !== this.len) {
      this.len = buf.byteLength;
      this.f32 = new Float32Array(buf);
      this.f64 = new Float64Array(buf);
      this.u32 = new Uint32Array(buf);
      this.u8 = new Uint8Array(buf);
    }
    return this;
  }
}

function slabCount(rows: number, kp: number, ld: number): number {
  const byMemory = Math.max(1, Math.floor(PARTIALS_BUDGET / (kp * ld * 4)));
  return Math.max(1, Math.min(MAX_SLABS, Math.ceil(rows / MIN_SLAB_ROWS), byMemory));
}

/** Writes rows [r0, r1) of one stream (A−P, A−N, or a raw matrix) as float32 with row stride ld. */
function fillRows(
  dst: Float32Array,
  off: number,
  ld: number,
  d: number,
  a: DataArray,
  b: DataArray | null,
  r0: number,
  r1: number,
): void {
  for (let i = r0; i < r1; i++) {
    const o = off + (i - r0) * ld;
    const s = i * d;
    if (b === null) {
      if (ld === d) {
        dst.set(a.subarray(s, s + d), o);
        continue;
      }
      for (let j = 0; j < d; j++) dst[o + j] = a[s + j];
    } else {
      for (let j = 0; j < d; j++) dst[o + j] = a[s + j] - b[s + j];
    }
    if (ld !== d) dst.fill(0, o + d, o + ld);
  }
}

/** Packs W (k×d, any float array) into 8-row panels at `ptr`: panel p, column j holds W[8p..8p+7][j]. */
function packPanels(
  f32: Float32Array,
  ptr: number,
  W: DataArray,
  k: number,
  d: number,
  ld: number,
  zero: boolean,
): void {
  const base = ptr >> 2;
  const kp = ceil8(k);
  if (zero) f32.fill(0, base, base + kp * ld);
  for (let r = 0; r < k; r++) {
    const o = base + (r >> 3) * ld * 8 + (r & 7);
    const w = r * d;
    for (let j = 0; j < d; j++) f32[o + j * 8] = W[w + j];
  }
}

/**
 * q rows of `len` values (stride ld, padded with zeros) from the columns of Q (len×q row-major):
 * row r holds Q[j·q + r]. Eight source rows at a time, so the reads stay in a few cache lines
 * while every destination row gets a run of eight.
 */
function fillColumns(dst: Float32Array, off: number, ld: number, len: number, Q: DataArray, q: number): void {
  for (let j0 = 0; j0 < len; j0 += 8) {
    const j1 = Math.min(len, j0 + 8);
    for (let r = 0; r < q; r++) {
      const o = off + r * ld;
      for (let j = j0; j < j1; j++) dst[o + j] = Q[j * q + r];
    }
  }
  if (ld !== len) for (let r = 0; r < q; r++) dst.fill(0, off + r * ld + len, off + (r + 1) * ld);
}

/**
 * packPanels of the k×n row-major matrix M's transpose (n rows of k values), read in M's order:
 * row t of M goes to column t of every panel, so reads are sequential and writes 8 floats apart.
 */
function packPanelsTransposed(f32: Float32Array, ptr: number, M: DataArray, n: number, k: number, ld: number): void {
  const base = ptr >> 2;
  f32.fill(0, base, base + ceil8(n) * ld);
  for (let t = 0; t < k; t++) {
    const m = t * n;
    const o = base + t * 8;
    for (let j = 0; j < n; j++) f32[o + (j >> 3) * ld * 8 + (j & 7)] = M[m + j];
  }
}

export function createWasmKernels(opts: WasmKernelOptions): WasmKernels {
  const { module, memory, heap } = opts;
  const runner = opts.runner ?? inlineRunner;
  const asyncRunner = opts.asyncRunner ?? null;
  const residentBytes = opts.residentBytes ?? DEFAULT_RESIDENT_BYTES;
  const chunkRows = opts.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const earlyExit = opts.earlyExit ?? true;
  const wide = opts.wide ? OP_WIDE : 0;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const ex = instance.exports as unknown as KernelExports;
  const views = new Views(memory);
  const local = (op: number, args: number, task: number, thread: number) => ex.runTask(op, args, task, thread);
  const threads = runner.threads;

  /** A growable scratch block (never shrinks). */
  class Scratch {
    ptr = 0;
    size = 0;
    need(bytes: number): number {
      if (bytes > this.size) {
        if (this.size > 0) heap.release(this.ptr);
        this.size = align(bytes);
        this.ptr = heap.alloc(this.size);
      }
      return this.ptr;
    }
  }
  const xScratch = new Scratch();
  const yScratch = new Scratch();
  const argScratch = heap.alloc(64 * 8);

  function setArgs(ptr: number, values: number[]): void {
    const f64 = views.refresh().f64;
    const o = ptr >> 3;
    for (let i = 0; i < values.length; i++) f64[o + i] = values[i];
  }

  function createObjective(set: TripletSet, lossOpts: LossOptions): WasmObjective {
    const { m, d } = set;
    const ld = ceil8(d);
    const normalized = lossOpts.normalize;
    const hinged = (lossOpts.hinge ?? 'relu') === 'relu';
    const margin = lossOpts.margin;
    const weightDecay = lossOpts.weightDecay;
    const streams = normalized ? 3 : 2;
    const rowBytes = ld * 4;
    const partRows = Math.max(1, Math.min(m, Math.floor(residentBytes / (streams * rowBytes))));
    const parts = Math.ceil(m / partRows);
    const srcs: [DataArray, DataArray | null][] = normalized
      ? [
          [set.anchors, null],
          [set.positives, null],
          [set.negatives, null],
        ]
      : [
          [set.anchors, set.positives],
          [set.anchors, set.negatives],
        ];
    const owned: number[] = [];
    const allocate = (bytes: number) => {
      const p = heap.alloc(bytes);
      owned.push(p);
      return p;
    };
    let bytes = 0;
    const stage: number[] = [];
    for (let s = 0; s < streams; s++) stage.push(allocate(partRows * rowBytes));
    bytes += streams * partRows * rowBytes;
    // resident: fill once; staged: float32 rows kept in JS, copied in part by part
    let stagedParts: Float32Array[][] | null = null;
    if (parts === 1) {
      const f32 = views.refresh().f32;
      for (let s = 0; s < streams; s++) fillRows(f32, stage[s] >> 2, ld, d, srcs[s][0], srcs[s][1], 0, m);
    } else {
      stagedParts = [];
      for (let p = 0; p < parts; p++) {
        const r0 = p * partRows;
        const r1 = Math.min(m, r0 + partRows);
        stagedParts.push(
          srcs.map(([a, b]) => {
            const arr = new Float32Array((r1 - r0) * ld);
            fillRows(arr, 0, ld, d, a, b, r0, r1);
            return arr;
          }),
        );
      }
    }
    const args = allocate(32 * 8);
    const reduceArgs = allocate(16 * 8);
    const results = allocate(MAX_SLABS * 32);
    let ck = -1;
    let kBufs: number[] = [];
    let panels = 0,
      partials = 0,
      out64 = 0,
      work = 0,
      workBytes = 0,
      kp = 0;
    const ensure = (k: number) => {
      if (k === ck) return;
      for (const p of kBufs) heap.release(p);
      ck = k;
      kp = ceil8(k);
      // projections, coefficients, row addresses, scratch, packed strips, early-exit scratch
      // (see kernels.ts slabTask)
      workBytes = align(
        6 * chunkRows * kp * 4 + 3 * chunkRows * 4 + kp * 4 + 3 * chunkRows * ld * 4 + chunkRows * (8 + 8 + 32 + 4),
      );
      const slabsMax = slabCount(partRows, kp, ld);
      kBufs = [
        (panels = heap.alloc(kp * ld * 4)),
        (partials = heap.alloc(slabsMax * kp * ld * 4)),
        (out64 = heap.alloc(k * d * 8)),
        (work = heap.alloc(workBytes * threads)),
      ];
      views.refresh().f32.fill(0, panels >> 2, (panels >> 2) + kp * ld);
    };

    let disposed = false;
    let lastEarlyExits = 0;
    return {
      m,
      d,
      parts,
      get lastEarlyExits() {
        return lastEarlyExits;
      },
      get bytes() {
        return (
          bytes + (ck < 0 ? 0 : kp * ld * 4 * (1 + slabCount(partRows, kp, ld)) + ck * d * 8 + workBytes * threads)
        );
      },
      evaluate(W: Float64Array, k: number, grad: Float64Array | null): LossValue {
        if (disposed) throw new Error('objective used after dispose()');
        ensure(k);
        let v = views.refresh();
        packPanels(v.f32, panels, W, k, d, ld, false);
        // summed even without weight decay: a non-finite W then still makes the loss NaN (0·NaN),
        // the line search's signal to step back, as in the float64 reference
        let wn = 0;
        for (let i = 0; i < k * d; i++) wn += W[i] * W[i];
        let sum = 0;
        let active = 0;
        let correct = 0;
        let dropped = 0;
        const wantGrad = grad !== null;
        for (let p = 0; p < parts; p++) {
          const rows = Math.min(partRows, m - p * partRows);
          if (stagedParts) for (let s = 0; s < streams; s++) v.f32.set(stagedParts[p][s], stage[s] >> 2);
          const slabs = slabCount(rows, kp, ld);
          setArgs(args, [
            stage[0],
            stage[1],
            normalized ? stage[2] : 0,
            ld,
            rows,
            slabs,
            panels,
            kp,
            margin,
            hinged ? 1 : 0,
            wantGrad ? 1 : 0,
            2 / m,
            partials,
            work,
            workBytes,
            results,
            chunkRows,
            earlyExit ? 1 : 0,
          ]);
          runner.run((normalized ? OP_NORMALIZED : OP_SQUARED) | wide, args, slabs, local);
          v = views.refresh();
          const r = results >> 3;
          for (let s = 0; s < slabs; s++) {
            sum += v.f64[r + 4 * s];
            active += v.f64[r + 4 * s + 1];
            correct += v.f64[r + 4 * s + 2];
            dropped += v.f64[r + 4 * s + 3];
          }
          if (wantGrad) {
            const per = Math.max(1, Math.ceil(k / (4 * threads)));
            setArgs(reduceArgs, [partials, slabs, kp, ld, k, d, out64, per, p > 0 ? 1 : 0]);
            runner.run(OP_REDUCE, reduceArgs, Math.ceil(k / per), local);
          }
        }
        if (grad !== null) {
          v = views.refresh();
          const o = out64 >> 3;
          if (weightDecay === 0) grad.set(v.f64.subarray(o, o + k * d));
          else for (let i = 0; i < k * d; i++) grad[i] = weightDecay * W[i] + v.f64[o + i];
        }
        lastEarlyExits = dropped;
        return { loss: sum / m + 0.5 * weightDecay * wn, activeCount: active, correctCount: correct };
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        for (const p of kBufs) heap.release(p);
        for (const p of owned) heap.release(p);
        kBufs = [];
        stagedParts = null;
      },
    };
  }

  /** Rows per projection task: one task on one thread, else ~4 tasks per thread in multiples of 4. */
  const rowsPerTask = (n: number) => (threads === 1 ? n : Math.max(16, Math.ceil(n / (4 * threads) / 4) * 4));

  function prepareProjection(W: DataArray, k: number, d: number): Projection {
    if (W.length < k * d) throw new RangeError(`W has ${W.length} values, expected k·d = ${k * d}`);
    const ld = ceil8(d);
    const kp = ceil8(k);
    let panels = heap.alloc(kp * ld * 4);
    packPanels(views.refresh().f32, panels, W, k, d, ld, true);
    return {
      k,
      d,
      embed(X: DataArray, n: number, normalize: boolean, out: DataArray) {
        if (panels === 0) throw new Error('projection used after dispose()');
        if (X.length < n * d) throw new RangeError(`X has ${X.length} values, expected n·d = ${n * d}`);
        if (out.length < n * k) throw new RangeError(`out has ${out.length} values, expected n·k = ${n * k}`);
        if (n === 0) return;
        const xp = xScratch.need(n * ld * 4);
        const yp = yScratch.need(n * kp * 4);
        let v = views.refresh();
        fillRows(v.f32, xp >> 2, ld, d, X, null, 0, n);
        const per = rowsPerTask(n);
        setArgs(argScratch, [xp, n, ld, panels, kp, yp, per, normalize ? 1 : 0]);
        runner.run(OP_PROJECT | wide, argScratch, Math.ceil(n / per), local);
        v = views.refresh();
        const y = yp >> 2;
        if (kp === k) {
          if (out instanceof Float32Array) out.set(v.f32.subarray(y, y + n * k));
          else for (let i = 0; i < n * k; i++) out[i] = v.f32[y + i];
        } else {
          for (let i = 0; i < n; i++) out.set(v.f32.subarray(y + i * kp, y + i * kp + k), i * k);
        }
      },
      async embedStaged(rows: StagedRows, n: number, normalize: boolean): Promise<Float32Array> {
        if (panels === 0) throw new Error('projection used after dispose()');
        const src = stagedPtr(rows);
        if (rows.byteLength < n * d * 4)
          throw new RangeError(`staged block has ${rows.byteLength} bytes, expected n·d·4 = ${n * d * 4}`);
        const out = new Float32Array(n * k);
        if (n === 0) return out;
        const blocks: number[] = [];
        try {
          const argp = heap.alloc(16 * 8);
          blocks.push(argp);
          const yp = heap.alloc(n * kp * 4);
          blocks.push(yp);
          let xp = src;
          if (ld !== d) {
            // rows need the kernels' zero-padded stride: repack (small d only)
            xp = heap.alloc(n * ld * 4);
            blocks.push(xp);
            const f32 = views.refresh().f32;
            for (let i = 0; i < n; i++) {
              f32.copyWithin((xp >> 2) + i * ld, (src >> 2) + i * d, (src >> 2) + (i + 1) * d);
              f32.fill(0, (xp >> 2) + i * ld + d, (xp >> 2) + (i + 1) * ld);
            }
          }
          setArgs(argp, [xp, n, ld, panels, kp, yp, normalize ? 1 : 0, n * ld, 0]);
          if (asyncRunner && n * k * d >= ASYNC_MIN_WORK) await asyncRunner.run(OP_EMBED | wide, argp, 1);
          else ex.runTask(OP_EMBED | wide, argp, 0, 0);
          const v = views.refresh();
          const bad = v.f64[(argp >> 3) + 8];
          if (bad >= 0) {
            const row = Math.floor(bad / ld);
            const col = bad % ld;
            throw new NonFiniteInputError(row, col, v.f32[(xp >> 2) + bad]);
          }
          const y = yp >> 2;
          if (kp === k) out.set(v.f32.subarray(y, y + n * k));
          else for (let i = 0; i < n; i++) out.set(v.f32.subarray(y + i * kp, y + i * kp + k), i * k);
          return out;
        } finally {
          for (const b of blocks) heap.release(b);
        }
      },
      dispose() {
        if (panels !== 0) heap.release(panels);
        panels = 0;
      },
    };
  }

  /** Staged blocks of this backend, by object: their address in the memory. */
  const staged = new WeakMap<StagedRows, { ptr: number }>();
  const unreleased = new FinalizationRegistry<{ ptr: number }>((b) => {
    if (b.ptr !== 0) heap.release(b.ptr);
    b.ptr = 0;
  });
  function stagedPtr(rows: StagedRows): number {
    const b = staged.get(rows);
    if (!b) throw new TypeError('rows were not staged by this backend');
    if (b.ptr === 0) throw new Error('staged rows used after release()');
    return b.ptr;
  }

  /** Reused by copyIntoShared; this backend's own, as every use is synchronous. */
  const bounce = new Uint8Array(BOUNCE_BYTES + 8);

  /**
   * dst[at…] = src. V8 copies into a SharedArrayBuffer with relaxed atomic words only when source
   * and target addresses agree mod 8, and byte by byte otherwise, which is several times slower
   * (docs/decisions/0005). An HTTP body chunk lands at any offset of its staged block, so a
   * misaligned chunk goes through a scratch copy placed to match the target.
   */
  function copyIntoShared(dst: Uint8Array, at: number, src: Uint8Array): void {
    const lead = (dst.byteOffset + at) & 7;
    if (((src.byteOffset - lead) & 7) === 0 || src.byteLength < 1024) {
      dst.set(src, at);
      return;
    }
    for (let done = 0; done < src.byteLength; done += BOUNCE_BYTES) {
      const n = Math.min(BOUNCE_BYTES, src.byteLength - done);
      bounce.set(src.subarray(done, done + n), lead); // plain memory: a plain memcpy
      dst.set(bounce.subarray(lead, lead + n), at + done); // at + done ≡ lead (mod 8): words
    }
  }

  function stage(bytes: number): StagedRows {
    if (!(Number.isInteger(bytes) && bytes >= 0)) throw new RangeError(`cannot stage ${bytes} bytes`);
    const block = { ptr: heap.alloc(bytes) };
    const rows: StagedRows = {
      byteLength: bytes,
      write(chunk: Uint8Array, offset: number) {
        if (block.ptr === 0) throw new Error('staged rows used after release()');
        if (offset < 0 || offset + chunk.byteLength > bytes) throw new RangeError('write past the staged block');
        copyIntoShared(views.refresh().u8, block.ptr + offset, chunk);
      },
      value(i: number) {
        return views.refresh().f32[(block.ptr >> 2) + i];
      },
      release() {
        if (block.ptr === 0) return;
        heap.release(block.ptr);
        block.ptr = 0;
        unreleased.unregister(rows);
      },
    };
    staged.set(rows, block);
    unreleased.register(rows, block, rows);
    return rows;
  }

  function project(W: Float64Array, k: number, d: number, X: DataArray, m: number, Y: Float64Array): void {
    const p = prepareProjection(W, k, d);
    try {
      p.embed(X, m, false, Y);
    } finally {
      p.dispose();
    }
  }

  function gram(Ea: DataArray, na: number, Eb: DataArray, nb: number, k: number, out: Float64Array): void {
    const p = prepareProjection(Eb, nb, k);
    try {
      p.embed(Ea, na, false, out);
    } finally {
      p.dispose();
    }
  }

  /**
   * The q rows of `len` values (stride ld) at `queries` from the columns of Q (len×q, float32, in
   * this memory) through the transpose op, the padding zeroed: fillColumns without a JS loop.
   */
  function columnsInPlace(Q: Float32Array, q: number, len: number, queries: number, ld: number, args: number): void {
    const per = Math.max(8, Math.ceil(q / (4 * threads) / 8) * 8);
    setArgs(args, [Q.byteOffset, q, len, q, queries, ld, per]);
    runSized(OP_TRANSPOSE, args, Math.ceil(q / per), q * len);
    const f32 = views.refresh().f32;
    if (ld !== len)
      for (let r = 0; r < q; r++) f32.fill(0, (queries >> 2) + r * ld + len, (queries >> 2) + (r + 1) * ld);
  }

  /**
   * Gallery rows copied once, packed as W's panels (8 rows a panel, ⌈n/8⌉·ld·8 floats, ld = ⌈k/8⌉·8).
   * Products run the columns op: the queries are X, and tasks take runs of panels, so one query
   * uses every thread of the pool and every lane of a panel is a real gallery row; the gallery
   * streams through once per block whatever q is, and the queries (q·ld floats) stay in cache.
   */
  function residentRows(E: DataArray, n: number, k: number, transposed = false): ResidentRows {
    if (!(Number.isInteger(n) && n >= 0 && Number.isInteger(k) && k >= 1))
      throw new RangeError(`residentRows: bad shape ${n}×${k}`);
    if (E.length < n * k) throw new RangeError(`E has ${E.length} values, expected n·k = ${n * k}`);
    const ld = ceil8(k);
    let panels = heap.alloc(ceil8(n) * ld * 4);
    if (transposed) packPanelsTransposed(views.refresh().f32, panels, E, n, k, ld);
    else packPanels(views.refresh().f32, panels, E, n, k, ld, true);
    return {
      n,
      k,
      against(Q: DataArray, q: number, columns = false): RowProducts {
        if (panels === 0) throw new Error('resident rows used after dispose()');
        if (!(Number.isInteger(q) && q >= 1)) throw new RangeError(`against: q must be a positive integer (got ${q})`);
        if (Q.length < q * k) throw new RangeError(`Q has ${Q.length} values, expected q·k = ${q * k}`);
        let queries = heap.alloc(q * ld * 4);
        let args = heap.alloc(8 * 8);
        if (columns && Q instanceof Float32Array && Q.buffer === memory.buffer)
          columnsInPlace(Q, q, k, queries, ld, args);
        else if (columns) fillColumns(views.refresh().f32, queries >> 2, ld, k, Q, q);
        else fillRows(views.refresh().f32, queries >> 2, ld, k, Q, null, 0, q);
        let out = 0;
        let outBytes = 0;
        return {
          block(r0: number, r1: number) {
            if (queries === 0 || panels === 0) throw new Error('row products used after dispose()');
            if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= n && r0 % 8 === 0))
              throw new RangeError(`block [${r0}, ${r1}) is not within [0, ${n}) from a multiple of 8`);
            const np = Math.ceil((r1 - r0) / 8);
            const stride = np * 8;
            if (q * stride * 4 > outBytes) {
              if (out !== 0) heap.release(out);
              outBytes = q * stride * 4;
              out = heap.alloc(outBytes);
            }
            if (np > 0) {
              setArgs(args, [queries, q, ld, panels + (r0 / 8) * ld * 32, np, out, stride, RESIDENT_TASK_PANELS]);
              const tasks = Math.ceil(np / RESIDENT_TASK_PANELS);
              if (q * stride * ld < RESIDENT_POOL_MIN_WORK) inlineRunner.run(OP_COLUMNS | wide, args, tasks, local);
              else runner.run(OP_COLUMNS | wide, args, tasks, local);
            }
            const o = out >> 2;
            return { values: views.refresh().f32.subarray(o, o + q * stride), stride };
          },
          dispose() {
            if (queries === 0) return;
            heap.release(queries);
            heap.release(args);
            if (out !== 0) heap.release(out);
            queries = args = out = 0;
          },
        };
      },
      dispose() {
        if (panels !== 0) heap.release(panels);
        panels = 0;
      },
    };
  }

  /** Runs `tasks` tasks of op on the pool when the work is worth waking it (RESIDENT_POOL_MIN_WORK). */
  function runSized(op: number, args: number, tasks: number, work: number): void {
    if (work < RESIDENT_POOL_MIN_WORK) inlineRunner.run(op, args, tasks, local);
    else runner.run(op, args, tasks, local);
  }

  /**
   * The triplets' refs, a list's copy, the distances (two float64 per listed triplet) and the
   * projections Z (n×ceil8(k), padding zero: the distance loop runs over whole 8-float steps).
   */
  function residentTriplets(refs: Int32Array, m: number, n: number): ResidentTriplets {
    if (!(Number.isInteger(m) && m >= 0 && Number.isInteger(n) && n >= 1) || refs.length < 3 * m)
      throw new RangeError(`residentTriplets: bad shape (${m} triplets over ${n} samples, ${refs.length} refs)`);
    for (let i = 0; i < 3 * m; i++)
      if (!(refs[i] >= 0 && refs[i] < n)) throw new RangeError(`residentTriplets: ref ${i} is ${refs[i]}, not < ${n}`);
    const blocks = {
      refs: heap.alloc(12 * m + 8),
      list: heap.alloc(4 * m + 8),
      out: heap.alloc(16 * m + 8),
      // the coefficients' list and the previous one, whose rows of C are cleared first
      counted: heap.alloc(4 * m + 8),
      previous: heap.alloc(4 * m + 8),
    };
    views.refresh().u8.set(new Uint8Array(refs.buffer, refs.byteOffset, 12 * m), blocks.refs);
    const args = heap.alloc(16 * 8);
    let z = 0;
    let kz = 0;
    let c = 0;
    let previousCount = 0;
    let disposed = false;
    const live = () => {
      if (disposed) throw new Error('resident triplets used after dispose()');
    };
    /** The first `count` triplet indices of `list`, each checked to be < m, copied to `dst`. */
    const copyList = (what: string, list: Int32Array, count: number, dst: number) => {
      if (!(Number.isInteger(count) && count >= 0 && count <= Math.min(m, list.length)))
        throw new RangeError(`${what}: count ${count} is not within the list`);
      for (let t = 0; t < count; t++)
        if (!(list[t] >= 0 && list[t] < m)) throw new RangeError(`${what}: list[${t}] is ${list[t]}, not < ${m}`);
      views.refresh().u8.set(new Uint8Array(list.buffer, list.byteOffset, 4 * count), dst);
    };
    const rows = (): ProjectionRows => {
      const ld = ceil8(kz);
      return { Z: views.refresh().f32.subarray(z >> 2, (z >> 2) + n * ld), ld };
    };
    return {
      m,
      n,
      load(values, stride, k) {
        live();
        if (!(Number.isInteger(k) && k >= 1 && stride >= n && values.length >= (k - 1) * stride + n))
          throw new RangeError(`load: ${values.length} values do not hold ${k} rows of stride ${stride} ≥ ${n}`);
        if (k !== kz) {
          if (z !== 0) heap.release(z);
          if (c !== 0) heap.release(c);
          kz = k;
          z = heap.alloc(n * ceil8(k) * 4);
          c = heap.alloc(n * k * 4);
          previousCount = 0;
          const f32 = views.refresh().f32;
          f32.fill(0, z >> 2, (z >> 2) + n * ceil8(k));
          f32.fill(0, c >> 2, (c >> 2) + n * k);
        }
        let v = values;
        let tmp = 0;
        // values in this memory are read in place; any others go through a copy
        if (!(values instanceof Float32Array && values.buffer === memory.buffer)) {
          tmp = heap.alloc(k * stride * 4);
          v = views.refresh().f32.subarray(tmp >> 2, (tmp >> 2) + k * stride);
          v.set(values.subarray(0, k * stride));
        }
        try {
          const per = Math.max(256, Math.ceil(n / (4 * threads) / 16) * 16);
          setArgs(args, [(v as Float32Array).byteOffset, stride, k, n, z, ceil8(k), per]);
          runSized(OP_TRANSPOSE, args, Math.ceil(n / per), n * k);
        } finally {
          if (tmp !== 0) heap.release(tmp);
        }
        return rows();
      },
      rows() {
        live();
        if (z === 0) throw new Error('rows(): nothing loaded');
        return rows();
      },
      distances(list, count) {
        live();
        if (z === 0) throw new Error('distances(): nothing loaded');
        if (list === null) {
          if (!(Number.isInteger(count) && count >= 0 && count <= m))
            throw new RangeError(`distances: count ${count} is not within the triplets`);
        } else copyList('distances', list, count, blocks.list);
        if (count > 0) {
          const per = Math.max(1024, Math.ceil(count / (4 * threads)));
          setArgs(args, [z, ceil8(kz), blocks.refs, list === null ? 0 : blocks.list, count, blocks.out, per]);
          runSized(OP_DISTANCES, args, Math.ceil(count / per), count * ceil8(kz) * 2);
        }
        return views.refresh().f64.subarray(blocks.out >> 3, (blocks.out >> 3) + 2 * count);
      },
      coefficients(list, count, scale) {
        live();
        if (z === 0) throw new Error('coefficients(): nothing loaded');
        copyList('coefficients', list, count, blocks.counted);
        setArgs(args, [z, ceil8(kz), c, kz, blocks.refs, blocks.previous, previousCount, blocks.counted, count, scale]);
        ex.runTask(OP_COEFFICIENTS, args, 0, 0);
        [blocks.counted, blocks.previous] = [blocks.previous, blocks.counted];
        previousCount = count;
        return views.refresh().f32.subarray(c >> 2, (c >> 2) + n * kz);
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        for (const p of [blocks.refs, blocks.list, blocks.out, blocks.counted, blocks.previous, args, z, c])
          if (p !== 0) heap.release(p);
      },
    };
  }

  /**
   * Generic G += C_Sᵀ·X_S (float32 per block of up to 256 rows, added into G in float64). Rows go
   * in the kernel's packed layouts: C by quads (quad q of row t at q·B + t, in 4-float units), X in
   * 8-column strips (strip b, row t at b·B + t, in 8-float units).
   */
  function accumulate(
    G: Float64Array,
    k: number,
    d: number,
    C: DataArray,
    X: DataArray,
    rows: Int32Array,
    count: number,
  ): void {
    if (count === 0) return;
    const ld = ceil8(d);
    const kp = ceil8(k);
    const B = 256;
    const gBytes = kp * ld * 4;
    const cBytes = B * kp * 4;
    const base = xScratch.need(gBytes + cBytes + B * ld * 4);
    const gp = base,
      cp = base + gBytes,
      xp = cp + cBytes;
    let v = views.refresh();
    v.f32.fill(0, gp >> 2, (gp + gBytes) >> 2);
    v.f32.fill(0, cp >> 2, (xp + B * ld * 4) >> 2); // padding columns stay zero
    for (let t0 = 0; t0 < count; t0 += B) {
      const s = Math.min(B, count - t0);
      for (let t = 0; t < s; t++) {
        const i = rows[t0 + t];
        const co = (cp >> 2) + t * 4;
        for (let r = 0; r < k; r++) v.f32[co + (r >> 2) * B * 4 + (r & 3)] = C[i * k + r];
        const xo = (xp >> 2) + t * 8;
        for (let j = 0; j < d; j++) v.f32[xo + (j >> 3) * B * 8 + (j & 7)] = X[i * d + j];
      }
      ex.accumulate(gp, kp, ld, cp, B * 16, xp, B * 32, s, wide ? 1 : 0);
    }
    v = views.refresh();
    for (let r = 0; r < k; r++) for (let j = 0; j < d; j++) G[r * d + j] += v.f32[(gp >> 2) + r * ld + j];
  }

  return {
    name: `wasm-simd${opts.wide ? '-wide' : ''}${threads > 1 ? `×${threads}` : ''}`,
    threads,
    heap,
    project,
    accumulate,
    createObjective,
    prepareProjection,
    gram,
    stage,
    residentRows,
    residentTriplets,
  };
}
