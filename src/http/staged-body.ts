// Binary bodies for the kernels (POST /embed with application/octet-stream), held in memory that
// grows with the bytes that arrived, never with what Content-Length declares. The bytes are kept
// in parts (Buffers, doubling from PART_MIN to PART_MAX) counted against one budget shared by all
// requests (STAGED_BYTES_LIMIT); past it the request is refused with 503 STAGING_FULL and
// Retry-After. Only a complete body is copied into a staged block of its exact size (the kernels'
// memory, which never shrinks), and that block stays counted until it is released. That copy runs
// in slices with the event loop let run between them: a burst of large bodies ending together
// would otherwise hold the loop for the whole of each copy.
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError, badRequest, tooLarge } from '../errors.js';
import type { StagedRows } from '../services/serving.js';

/** The first part of a body: small, so a stalled connection holds little. */
const PART_MIN = 16 * 1024;
/** Parts stop doubling here: at most this much is allocated ahead of the bytes that arrived. */
const PART_MAX = 1024 * 1024;
/**
 * At most about this much is copied into the staged block per turn of the event loop. A body this
 * size or smaller is copied in one go, without a turn given up: its copy is as short as a slice.
 */
const COPY_SLICE = PART_MAX;
/** What a part copied and given back is replaced by. */
const EMPTY_PART = Buffer.alloc(0);

/** A drained budget that held at least this much asks for its memory back (onDrained). */
const DRAIN_HINT_BYTES = 16 * 1024 * 1024;

/** Bytes held by binary bodies across all requests, against STAGED_BYTES_LIMIT. */
export class StagingBudget {
  private used = 0;
  /** The turn the last slice waiting to be copied waits for (copyTurn). */
  private lastTurn: Promise<void> = Promise.resolve();
  /** the most held since the budget last drained */
  private peak = 0;
  constructor(
    readonly limit: number,
    /** called when the budget drains to zero after holding DRAIN_HINT_BYTES or more */
    private readonly onDrained: () => void = () => {},
  ) {}

  get bytes(): number {
    return this.used;
  }

  /** Takes n bytes, or throws 503 STAGING_FULL when that would pass the limit. */
  take(n: number): void {
    if (this.used + n > this.limit) {
      throw new AppError(
        503,
        'STAGING_FULL',
        `binary request bodies already hold ${this.used} of ${this.limit} bytes (STAGED_BYTES_LIMIT); retry after 1 s`,
        { 'retry-after': '1', connection: 'close' },
      );
    }
    this.used += n;
    this.peak = Math.max(this.peak, this.used);
  }

  /** Counts n bytes already held elsewhere (moved, not new): never refused. */
  keep(n: number): void {
    this.used += n;
    this.peak = Math.max(this.peak, this.used);
  }

  /**
   * A turn of the event loop for one slice of a body's copy into its block. The slices of every
   * body this budget counts take turns, in the order they asked: a burst of bodies ending together
   * holds the loop for one slice at a time, not one per body.
   */
  copyTurn(): Promise<void> {
    this.lastTurn = this.lastTurn.then(() => nextTurn());
    return this.lastTurn;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
    if (this.used === 0 && this.peak >= DRAIN_HINT_BYTES) {
      this.peak = 0;
      this.onDrained();
    }
  }
}

/** Bytes one reader holds, kept in step with a budget (none: not counted). */
export class Held {
  private n = 0;
  constructor(private readonly budget: StagingBudget | undefined) {}

  /** Now holding n bytes: more is taken from the budget (503 STAGING_FULL past it), less given back. */
  set(n: number): void {
    if (!this.budget || n === this.n) return;
    if (n > this.n) this.budget.take(n - this.n);
    else this.budget.give(this.n - n);
    this.n = n;
  }
}

const BUDGET = Symbol('staging budget');
type Budgeted = Readable & { [BUDGET]?: StagingBudget };

/** stream, marked so the readers of src/http/streams.ts count what they hold against budget. */
export function withBudget<S extends Readable>(stream: S, budget: StagingBudget): S {
  (stream as Budgeted)[BUDGET] = budget;
  return stream;
}

export function budgetOf(stream: Readable): StagingBudget | undefined {
  return (stream as Budgeted)[BUDGET];
}

export interface StagedBodyOptions {
  /** Content-Length as sent, if any */
  contentLength: string | undefined;
  /** bytes the body may take (BODY_LIMIT_BYTES) */
  limit: number;
  budget: StagingBudget;
  /** a block of exactly n bytes (ServingService.stage) */
  stage: (bytes: number) => StagedRows;
  what?: string;
}

/** The parts a body arrived in, each counted against the budget. */
class Parts {
  private readonly parts: Buffer[] = [];
  private fill = 0;
  /** bytes received */
  length = 0;
  /** bytes allocated (counted against the budget) */
  capacity = 0;

  constructor(
    private readonly budget: StagingBudget,
    private readonly declared: number,
  ) {}

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.byteLength) {
      let part = this.parts[this.parts.length - 1];
      if (part === undefined || this.fill === part.byteLength) part = this.grow(chunk.byteLength - at);
      const n = Math.min(part.byteLength - this.fill, chunk.byteLength - at);
      chunk.copy(part, this.fill, at, at + n);
      this.fill += n;
      at += n;
      this.length += n;
    }
  }

  private grow(wanted: number): Buffer {
    const last = this.parts[this.parts.length - 1]?.byteLength ?? 0;
    let size = Math.min(PART_MAX, Math.max(PART_MIN, 2 * last, Math.min(wanted, PART_MAX)));
    // With a Content-Length, the last part is cut to what is left of it.
    if (Number.isFinite(this.declared)) size = Math.max(1, Math.min(size, this.declared - this.length));
    this.budget.take(size);
    this.capacity += size;
    const part = Buffer.allocUnsafeSlow(size);
    this.parts.push(part);
    this.fill = 0;
    return part;
  }

  /**
   * Copies the body into rows (of exactly this.length bytes): a body of one slice at once, a
   * larger one about COPY_SLICE bytes per turn (StagingBudget.copyTurn). Each part's bytes are given
   * back once copied, so the budget counts what is held while the copy waits for its turns.
   * Rejects with the first write that throws. Nothing else may touch the parts until it settles.
   */
  async copyTo(rows: StagedRows): Promise<void> {
    const sliced = this.length > COPY_SLICE;
    const last = this.parts.length - 1;
    let offset = 0;
    let slice = 0;
    for (let i = 0; i <= last; i++) {
      const part = this.parts[i];
      const used = i === last ? this.fill : part.byteLength;
      if (sliced && (offset === 0 || slice + used > COPY_SLICE)) {
        await this.budget.copyTurn();
        slice = 0;
      }
      rows.write(part.subarray(0, used), offset);
      offset += used;
      slice += used;
      this.drop(i);
    }
  }

  /** Gives back part i's bytes (copied: no longer needed). */
  private drop(i: number): void {
    const size = this.parts[i].byteLength;
    this.parts[i] = EMPTY_PART;
    this.capacity -= size;
    this.budget.give(size);
  }

  /** Drops the parts and gives their bytes back. */
  free(): void {
    this.parts.length = 0;
    this.budget.give(this.capacity);
    this.capacity = 0;
  }
}

/**
 * rows, its bytes given back to the budget when it is released (once). The same object, not a
 * wrapper: the kernels know their staged blocks by identity.
 */
function counted(rows: StagedRows, budget: StagingBudget): StagedRows {
  const release = rows.release.bind(rows);
  let held = rows.byteLength;
  rows.release = () => {
    release();
    budget.give(held);
    held = 0;
  };
  return rows;
}

const tooBig = (limit: number, what: string) =>
  tooLarge('BODY_TOO_LARGE', `${what} is larger than the limit of ${limit} bytes (BODY_LIMIT_BYTES)`);

/**
 * A complete body's parts copied into a staged block of its length. The block is counted from the
 * moment it is taken and each part given back as it is copied, so the budget follows the bytes
 * held during the copy. On failure the block is released and the parts given back: nothing stays
 * counted.
 */
async function copyOut(parts: Parts, o: StagedBodyOptions): Promise<StagedRows> {
  let rows: StagedRows | undefined;
  try {
    rows = o.stage(parts.length);
    o.budget.keep(rows.byteLength);
    rows = counted(rows, o.budget);
    await parts.copyTo(rows);
    return rows;
  } catch (e) {
    rows?.release();
    throw e;
  } finally {
    parts.free();
  }
}

/**
 * Reads a whole binary body into a staged block. An oversized Content-Length is refused before a
 * byte is read; otherwise memory follows the bytes received, and the block is taken only for a
 * complete body. Every failure gives back what the body held.
 */
export function readStaged(stream: Readable, o: StagedBodyOptions): Promise<StagedRows> {
  const what = o.what ?? 'request body';
  const raw = o.contentLength;
  const declared = raw === undefined || raw === '' ? NaN : Number(raw);
  const known = Number.isSafeInteger(declared) && declared >= 0;
  if (known && declared > o.limit) {
    stream.resume();
    return Promise.reject(tooBig(o.limit, what));
  }
  const parts = new Parts(o.budget, known ? declared : NaN);
  return new Promise<StagedRows>((resolve, reject) => {
    let settled = false;
    const detach = () => {
      stream.off('data', onData).off('end', onEnd).off('error', fail).off('close', onClose);
    };
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      detach();
      parts.free();
      stream.resume();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      if (parts.length + chunk.byteLength > o.limit) return fail(tooBig(o.limit, what));
      if (known && parts.length + chunk.byteLength > declared)
        return fail(badRequest('INVALID_BODY', `${what} is longer than its Content-Length`));
      try {
        parts.write(chunk);
      } catch (e) {
        fail(e);
      }
    };
    const onEnd = () => {
      if (settled) return;
      if (known && parts.length !== declared)
        return fail(badRequest('INVALID_BODY', `${what} is shorter than its Content-Length`));
      // The body is complete: from here the copy owns the parts, and a late 'close' or 'error' on
      // the stream (a client gone while the copy runs) changes nothing.
      settled = true;
      detach();
      copyOut(parts, o).then(resolve, reject);
    };
    const onClose = () => fail(badRequest('INVALID_BODY', `${what} ended early (connection closed)`));
    stream.on('data', onData).on('end', onEnd).on('error', fail).on('close', onClose);
  });
}
