// JSON request bodies whose numbers only ever become float32 (/embed, /distances), parsed fast.
//
// Why: JSON.parse of a long vector of 16–17-digit decimals (as clients print float64s), plus
// secure-json-parse's two regex scans, was the largest cost of a one-vector /embed after the socket
// itself (figures: docs/decisions/0004-float32-json-parser.md). This parser reads
// the same grammar in one pass, and reads each number only as far as float32 needs:
//
// - A decimal whose digits stay below 2^53 and whose scale is at most 10^±22 is exact in float64, so
//   one multiply or divide gives the correctly rounded float64: the value JSON.parse gives.
// - Longer decimals (16–19 significant digits) are read approximately (relative error < 2^-50)
//   and returned as their float32 value, once the estimate is known to be far enough from a
//   float32 rounding boundary that the exact float64 rounds to the same float32. Only numbers in
//   arrays are read so: they are the vectors, and every route that uses this parser stores them as
//   float32, so Math.fround of each value is what it would have been. A number on its own (a
//   `k`, a `maxDistance`) is an option compared in float64, so it is always read exactly.
// - Anything else takes the exact path: a number beyond the above, or near a boundary, is read
//   with Number() (correctly rounded), and a body with string escapes, a "__proto__" or
//   "constructor" key, nesting deeper than MAX_JSON_DEPTH, or any syntax error, is not parsed here at
//   all: Float32JsonParser.parse returns FALLBACK and the caller hands the text to Fastify's own
//   parser, so those bodies keep exactly the standard errors and protections.

import { MAX_JSON_DEPTH } from './json-text.js';

/** Returned when the text is not in the subset parsed here: parse it the standard way. */
export const FALLBACK: unique symbol = Symbol('fallback to the standard JSON parser');

/** Room the scratch array keeps between bodies: 65,536 numbers (512 KB); a longer run grows it for one body. */
const MAX_KEPT_SCRATCH = 65_536;
/** 2^53: a digit string whose accumulated value stays below this was accumulated exactly (no
 *  step rounds, since a rounded result below 2^53 needs an exact one below it; 2^53 itself may be
 *  9007199254740993 rounded to even). */
const EXACT_INT = 9007199254740992;
/** 10^0 … 10^22: exact in float64. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);
/** A scale no fast path takes (an integer, not NaN, so the variable stays a small integer for V8). */
const OUT_OF_RANGE = 2 ** 30;
/** Approximate reads: at most 19 significant digits (≤ 4 roundings while accumulating, 1 scaling). */
const MAX_DIGITS = 19;
/** Bound on |estimate − float64 value| relative to the value: 2^-49, twice the worst case. */
const REL_ERROR = 2 ** -49;

/** Half a float32 ulp for each biased exponent: 2^(e − 127 − 24). */
const HALF_ULP = Float64Array.from({ length: 256 }, (_, e) => 2 ** (e - 151));
const bits = new Uint32Array(1);
const f32 = new Float32Array(bits.buffer);

class Fallback extends Error {}
/** Thrown from deep in the reader, caught in parse(): one preallocated object, no stack trace kept. */
const fallback = new Fallback();

const EMPTY = Buffer.alloc(0);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isWhitespace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * A recursive-descent JSON reader over a body's bytes. One per app (not per body: its scratch
 * array is reused), synchronous, so one body at a time.
 *
 * Bytes, not a string: V8's charCodeAt checks the string's representation at every call, and
 * took about three times as long per character as reading a Uint8Array.
 */
export class Float32JsonParser {
  private b: Buffer = EMPTY;
  private i = 0;
  /** Numbers read by numbers(); grown as needed and kept (allocating it per body showed in profiles). */
  private scratch = new Float64Array(1024);
  /** Whether the last run of numbers ended with its array's ']'. */
  private closed = false;

  /** The value of a JSON body, or FALLBACK when it is outside the subset this file reads. */
  parse(body: Buffer): unknown {
    let last = body.length - 1;
    while (last >= 0 && isWhitespace(body[last])) last--;
    if (last < 0 || (body[last] !== 125 && body[last] !== 93)) return FALLBACK; // see numbers()
    this.b = body;
    this.i = 0;
    try {
      const v = this.value(0);
      this.ws();
      return this.i === body.length ? v : FALLBACK;
    } catch (e) {
      if (e === fallback) return FALLBACK;
      throw e;
    } finally {
      this.b = EMPTY; // hold no body between requests
      // nor a scratch array grown for one huge run of numbers
      if (this.scratch.length > MAX_KEPT_SCRATCH) this.scratch = new Float64Array(1024);
    }
  }

  /** The byte at i, or -1 past the end (a typed array's out-of-range undefined would deoptimise). */
  private at(i: number): number {
    return i < this.b.length ? this.b[i] : -1;
  }

  private ws(): void {
    let i = this.i;
    while (isWhitespace(this.at(i))) i++;
    this.i = i;
  }

  private value(depth: number): unknown {
    this.ws();
    const c = this.at(this.i);
    if (c === 91) return this.array(depth + 1); // [
    if (c === 123) return this.object(depth + 1); // {
    if (c === 34) return this.string(); // "
    if (c === 45 || isDigit(c)) {
      this.numbers(true);
      return this.scratch[0];
    }
    if (this.word('true')) return true;
    if (this.word('false')) return false;
    if (this.word('null')) return null;
    throw fallback;
  }

  /** Consumes the ASCII word w when it comes next. */
  private word(w: string): boolean {
    for (let j = 0; j < w.length; j++) if (this.at(this.i + j) !== w.charCodeAt(j)) return false;
    this.i += w.length;
    return true;
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_JSON_DEPTH) throw fallback;
    this.i++;
    this.ws();
    if (this.at(this.i) === 93) {
      this.i++;
      return [];
    }
    let out: unknown[] = [];
    const first = this.at(this.i);
    if (first === 45 || isDigit(first)) {
      // A run of numbers (a vector) goes through the typed scratch array and becomes an array of
      // the right length at once: push() growing a double array cost as much as the parsing.
      const n = this.numbers(false);
      out = new Array(n);
      for (let j = 0; j < n; j++) out[j] = this.scratch[j];
      if (this.closed) return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.at(this.i++);
      if (c === 93) return out; // ]
      if (c !== 44) throw fallback; // ,
    }
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_JSON_DEPTH) throw fallback;
    this.i++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.at(this.i) === 125) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.at(this.i) !== 34) throw fallback;
      const key = this.string();
      // the standard parser decides what these mean (here: a 400, onProtoPoisoning 'error')
      if (key === '__proto__' || key === 'constructor') throw fallback;
      this.ws();
      if (this.at(this.i++) !== 58) throw fallback; // :
      out[key] = this.value(depth);
      this.ws();
      const c = this.at(this.i++);
      if (c === 125) return out; // }
      if (c !== 44) throw fallback;
    }
  }

  /** A string of printable ASCII without escapes (anything else, or no closing quote: fallback). */
  private string(): string {
    const start = this.i + 1;
    let i = start;
    for (let c = this.at(i); c !== 34; c = this.at(++i)) {
      if (c === 92 || c < 32 || c > 126) throw fallback; // backslash, control, non-ASCII, end of body
    }
    this.i = i + 1;
    return this.b.toString('latin1', start, i);
  }

  /**
   * JSON numbers (RFC 8259 grammar) into scratch from this.i, read as the file's header says: one
   * (single), or a comma-separated run up to the array's ']' (consumed; closed = true) or up to an
   * element that is not a number (this.i at it; closed = false). Returns how many.
   *
   * One loop over locals with every common case inline. V8 inlines nothing this size, and a
   * float64 returned from a call is boxed in a new heap number: a function per number took five
   * times as long. Digits are gathered nine at a time in an int32, then folded into the float64 m.
   *
   * Bytes are read without a bounds check (a quarter of the time went to them): parse() only
   * starts on a body whose last non-blank byte is '}' or ']', and no byte of a number, blank or
   * comma is one of those, so every scan here stops at or before that byte.
   */
  private numbers(single: boolean): number {
    const b = this.b;
    let scratch = this.scratch;
    let i = this.i;
    let n = 0;
    for (;;) {
      if (n === scratch.length) {
        const grown = new Float64Array(2 * n);
        grown.set(scratch);
        this.scratch = scratch = grown;
      }
      const start = i;
      let c = b[i];
      const negative = c === 45;
      if (negative) c = b[++i];
      let m = 0; // significant digits folded so far (exact while ≤ 2^53)
      let h = 0; // up to nine digits not folded yet
      let hn = 0; // how many
      let digits = 0; // significant digits (leading zeros are not)
      let scale = 0; // value = (m·10^hn + h) × 10^scale
      if (c === 48) c = b[++i];
      else if (isDigit(c)) {
        const from = i;
        do {
          h = h * 10 + (c - 48);
          if (++hn === 9) {
            m = m * 1e9 + h;
            h = hn = 0;
          }
          c = b[++i];
        } while (isDigit(c));
        digits = i - from; // counted from positions: no per-digit counters
      } else throw fallback;
      if (c === 46) {
        c = b[++i];
        if (!isDigit(c)) throw fallback;
        const point = i;
        if (digits === 0) while (c === 48) c = b[++i];
        const from = i;
        while (isDigit(c)) {
          h = h * 10 + (c - 48);
          if (++hn === 9) {
            m = m * 1e9 + h;
            h = hn = 0;
          }
          c = b[++i];
        }
        digits += i - from;
        scale = point - i;
      }
      if (hn > 0) m = m * POW10[hn] + h;
      if (c === 101 || c === 69) {
        c = b[++i];
        const expNegative = c === 45;
        if (c === 43 || c === 45) c = b[++i];
        if (!isDigit(c)) throw fallback;
        let e = 0;
        do {
          if (e < 1e8) e = e * 10 + (c - 48); // exact: below 10^9
          c = b[++i];
        } while (isDigit(c));
        // An exponent of 10^8 or more (digits dropped above) leaves this number to Number(): with a
        // fraction that long the scale could otherwise land back in range with the wrong value.
        scale = e >= 1e8 ? OUT_OF_RANGE : scale + (expNegative ? -e : e);
      }
      let v = -1;
      if (m === 0) v = 0;
      else if (m < EXACT_INT && scale >= -22 && scale <= 22) v = scale < 0 ? m / POW10[-scale] : m * POW10[scale];
      else if (!single && digits <= MAX_DIGITS && scale >= -22 && scale < 0) {
        // Longer decimals: the float32 of an estimate, when it is surely the float32 of the exact
        // float64: a normal float32 well inside the range, not a power of two (whose lower
        // neighbour is nearer), and the estimate at least REL_ERROR·x from a rounding boundary.
        const x = m / POW10[-scale];
        const f = Math.fround(x);
        f32[0] = f;
        const e = (bits[0] >>> 23) & 0xff;
        if (e >= 7 && e <= 247 && (bits[0] & 0x7fffff) !== 0 && Math.abs(x - f) < HALF_ULP[e] - x * REL_ERROR) v = f;
      }
      if (v < 0) v = Math.abs(Number(b.toString('latin1', start, i))); // the rest, exactly
      scratch[n++] = negative ? -v : v;
      if (single) {
        this.i = i;
        return n;
      }
      while (isWhitespace(c)) c = b[++i];
      if (c === 93) {
        this.i = i + 1;
        this.closed = true;
        return n;
      }
      if (c !== 44) throw fallback;
      c = b[++i];
      while (isWhitespace(c)) c = b[++i];
      if (!(c === 45 || isDigit(c))) {
        this.i = i;
        this.closed = false;
        return n;
      }
    }
  }
}
