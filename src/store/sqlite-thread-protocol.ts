// The messages between the store's main-thread side and the thread that hosts SqliteDatabase:
// a call (method and arguments), its answer or its error. Errors cross as plain data and are
// rebuilt, since structured clone keeps an Error's message but not its kind and code.
import { DomainError, type DomainErrorKind, type ErrorCode } from '../domain/errors.js';

export interface StoreCall {
  id: number;
  method: string;
  args: unknown[];
}

export interface SentError {
  message: string;
  kind?: DomainErrorKind;
  code?: string;
}

/** Every answer says whether the database is still usable (not closed, its file not lost), for isOpen(). */
export type StoreAnswer = { id: number; open: boolean } & ({ value: unknown } | { error: SentError });

/** The thread's first message: the database opened (id 0, no value) or could not be. */
export const OPENED_ID = 0;

export function sendError(err: unknown): SentError {
  if (err instanceof DomainError) return { message: err.message, kind: err.kind, code: err.code };
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { message: err.message, code: typeof code === 'string' ? code : undefined };
  }
  return { message: String(err) };
}

export function receiveError(e: SentError): Error {
  if (e.kind) return new DomainError(e.kind, e.code as ErrorCode, e.message);
  return Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });
}

const isVector = (v: unknown): v is Float32Array | Float64Array =>
  v instanceof Float32Array || v instanceof Float64Array;

/**
 * Vectors in a call's arguments (top level or one object deep, as NewModel.weights), copied to
 * exact-size arrays whose buffers are transferred. Cloning the caller's view instead would copy its
 * whole backing buffer (an NDJSON decoder slab), and transferring it would detach the caller's.
 */
export function detachArgs(args: unknown[]): { args: unknown[]; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const own = (v: unknown): unknown => {
    if (!isVector(v)) return v;
    const copy = v.slice();
    transfer.push(copy.buffer as ArrayBuffer);
    return copy;
  };
  const out = args.map((a) =>
    a !== null && typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype
      ? Object.fromEntries(Object.entries(a).map(([k, v]) => [k, own(v)]))
      : own(a),
  );
  return { args: out, transfer };
}

/**
 * Buffers of typed arrays in an answer (up to two objects deep: StoredIndexedTriplets.samples.data)
 * that the thread made and can give away. Cloning them instead copied a dataset's whole vectors
 * once more on every job start.
 */
export function answerTransfers(value: unknown, depth = 2): ArrayBuffer[] {
  if (isWholeArray(value)) return [value.buffer as ArrayBuffer];
  if (value === null || typeof value !== 'object' || depth === 0 || Array.isArray(value)) return [];
  return Object.values(value).flatMap((v) => answerTransfers(v, depth - 1));
}

/** A typed array that owns its whole buffer (not a Buffer: those may share a pooled slab). */
function isWholeArray(v: unknown): v is Float32Array | Float64Array | Int32Array {
  return (
    (v instanceof Float32Array || v instanceof Float64Array || v instanceof Int32Array) &&
    v.byteOffset === 0 &&
    v.byteLength === v.buffer.byteLength
  );
}
