import type { TripletObjective } from '../losses.js';
import type { DataArray, LossOptions, TripletSet } from '../types.js';

/**
 * The dense products the triplet objective, embedding and distances spend their time in.
 * `project` and `accumulate` are the batched building blocks (the pure-TypeScript objective
 * is written with them); a backend may also supply whole fused operations (`createObjective`,
 * `prepareProjection`, `gram`), which callers use when present.
 */
export interface Kernels {
  readonly name: string;
  /** threads this backend computes on (1 unless a pool was injected) */
  readonly threads?: number;
  /** Y = X·Wᵀ: Y[i·k + r] = Σ_j W[r·d + j]·X[i·d + j] for i < m, r < k. */
  project(W: Float64Array, k: number, d: number, X: DataArray, m: number, Y: Float64Array): void;
  /**
   * G += C_Sᵀ·X_S over the listed rows S = rows[0..count):
   * G[r·d + j] += Σ_t C[rows[t]·k + r]·X[rows[t]·d + j].
   */
  accumulate(G: Float64Array, k: number, d: number, C: DataArray, X: DataArray, rows: Int32Array, count: number): void;
  /** A whole loss+gradient objective (forward pass fused with the active-set gradient). */
  createObjective?(set: TripletSet, opts: LossOptions): TripletObjective;
  /** W (k×d) prepared once for many embeddings; W must not change while the projection lives. */
  prepareProjection?(W: DataArray, k: number, d: number): Projection;
  /** out (na×nb) = Ea (na×k) · Ebᵀ (nb×k), the Gram block of the ‖x‖²+‖y‖²−2xᵀy distance form. */
  gram?(Ea: DataArray, na: number, Eb: DataArray, nb: number, k: number, out: Float64Array): void;
  /**
   * A block of `bytes` bytes in the backend's own memory that a request body can be copied into
   * once and embedded from in place (Projection.embedStaged). Release it when done.
   */
  stage?(bytes: number): StagedRows;
  /**
   * n rows of k values (E, row-major) copied once into the backend's own memory, for many
   * products against small sets of query rows (exact gallery search). Dispose it when done.
   * `transposed`: E is k×n row-major and its columns are the rows (a block of samples gives the
   * rows of its Xᵀ without a transposed copy).
   */
  residentRows?(E: DataArray, n: number, k: number, transposed?: boolean): ResidentRows;
  /**
   * m index triplets over n samples (refs: a, p, n per triplet, each < n) copied once into the
   * backend's memory, for the squared distances between the samples' projections that the
   * indexed objective's brackets start from. Dispose it when done.
   */
  residentTriplets?(refs: Int32Array, m: number, n: number): ResidentTriplets;
}

/** Index triplets kept in a backend's memory with their samples' projections (Kernels.residentTriplets). */
export interface ResidentTriplets {
  readonly m: number;
  readonly n: number;
  /**
   * Sets the projections Z (n×k) from `values`, k rows of `stride` with sample i's value r at
   * values[r·stride + i] (as RowProducts.block gives them), and returns Z's rows.
   */
  load(values: DataArray, stride: number, k: number): ProjectionRows;
  /** Z's rows as last loaded (a partial evaluation rewrites some of them in place) */
  rows(): ProjectionRows;
  /**
   * out[2t] = ‖z_a − z_p‖², out[2t + 1] = ‖z_a − z_n‖² for triplet list[t] (triplet t without a
   * list), t < count: float32 sums, as the fused objective's. A view of the backend's scratch,
   * valid until the next call or dispose.
   */
  distances(list: Int32Array | null, count: number): Float64Array;
  /**
   * The gradient's coefficients C (n×k, row-major, float32) of the listed triplets, summed in the
   * list's order from the loaded projections: s·(z_n − z_p), s·(z_p − z_a) and s·(z_a − z_n) into
   * the rows of a, p and n. Every row that no listed triplet touches is zero. A view of the
   * backend's memory, valid until the next call or dispose.
   */
  coefficients(list: Int32Array, count: number, scale: number): Float32Array;
  /** frees the triplets and the projections. Idempotent. */
  dispose(): void;
}

/** n projected rows of k float32 values, row i at Z[i·ld], ld ≥ k (a view of the backend's memory). */
export interface ProjectionRows {
  readonly Z: Float32Array;
  readonly ld: number;
}

/** Rows kept in a backend's memory (Kernels.residentRows). */
export interface ResidentRows {
  readonly n: number;
  readonly k: number;
  /**
   * q query rows prepared once for `RowProducts.block` over these rows: Q is q×k row-major, or with
   * `columns` k×q row-major (query r is column r, Q[j·q + r]), as a block of the gradient's
   * per-sample coefficients gives them without a transposed copy.
   */
  against(Q: DataArray, q: number, columns?: boolean): RowProducts;
  /** frees the rows; products made from them must not be used afterwards. Idempotent. */
  dispose(): void;
}

/** Dot products of resident rows with a fixed set of q query rows. */
export interface RowProducts {
  /**
   * The products of rows [r0, r1) with every query, query by query: values[j·stride + (i − r0)] =
   * E[i]·Q[j] for j < q and r0 ≤ i < r1 (float32 accumulation in the WebAssembly backend), with
   * stride ≥ r1 − r0. A view of the backend's scratch, valid until the next `block` or `dispose`.
   * r0 must be a multiple of ROW_PRODUCTS_ALIGN.
   */
  block(r0: number, r1: number): { values: DataArray; stride: number };
  /** frees the query rows and the scratch. Idempotent. */
  dispose(): void;
}

/** RowProducts.block's r0 is a multiple of this (the WebAssembly backend's panel height). */
export const ROW_PRODUCTS_ALIGN = 8;

/** Raw little-endian float32 rows staged for Projection.embedStaged. */
export interface StagedRows {
  readonly byteLength: number;
  /** copies chunk to byte offset `offset` of the block */
  write(chunk: Uint8Array, offset: number): void;
  /** the float32 value at index i (for error messages) */
  value(i: number): number;
  /** frees the block; idempotent */
  release(): void;
}

/** An input value that is NaN or ±Infinity: nothing was embedded. */
export class NonFiniteInputError extends Error {
  constructor(
    readonly row: number,
    readonly column: number,
    readonly value: number,
  ) {
    super(`row ${row}, value ${column} is ${value}`);
    this.name = 'NonFiniteInputError';
  }
}

export interface Projection {
  readonly k: number;
  readonly d: number;
  /** out (n×k) = X (n×d)·Wᵀ, rows L2-normalised (norm clamped at NORM_EPSILON) when asked */
  embed(X: DataArray, n: number, normalize: boolean, out: DataArray): void;
  /**
   * n rows of d float32 values staged by the same backend's `stage`, checked for NaN/±Infinity
   * (NonFiniteInputError, nothing computed) and embedded, possibly on a helper thread, into a
   * new n×k array. The staged block is not released.
   */
  embedStaged?(rows: StagedRows, n: number, normalize: boolean): Promise<Float32Array>;
  /** frees what the projection holds; it must not be used afterwards */
  dispose(): void;
}

/**
 * Runs numbered tasks of a WebAssembly operation on one or more threads that share the
 * module's memory. Injected from outside the pure core (src/compute holds the worker pool);
 * the default runs every task inline on the calling thread.
 * A task's result must depend only on its index, never on the thread that ran it, so any
 * number of threads gives bit-identical results.
 */
export interface TaskRunner {
  readonly threads: number;
  /** runs local(op, args, t, thread) or its equivalent on another thread for every t < tasks; returns when all are done */
  run(
    op: number,
    args: number,
    tasks: number,
    local: (op: number, args: number, task: number, thread: number) => void,
  ): void;
}

/**
 * Runs numbered tasks of an operation on a helper thread sharing the module's memory, without
 * blocking the caller (the HTTP thread).
 */
export interface AsyncTaskRunner {
  run(op: number, args: number, tasks: number): Promise<void>;
}

export const inlineRunner: TaskRunner = {
  threads: 1,
  run(op, args, tasks, local) {
    for (let t = 0; t < tasks; t++) local(op, args, t, 0);
  },
};
