// float32 results as JSON text, for the /embed hot path.
//
// JSON.stringify prints a float32 result as its float64 value, up to 17 significant digits
// ("0.10000000149011612" for 0.1f), digits float32 does not have. Here each value is written with
// 8 significant digits when they round back to the same float32, else 9 (which always do:
// FLT_DECIMAL_DIG), trailing zeros dropped, in the form JavaScript's Number#toString gives that
// decimal ("0.1"), so Math.fround(JSON.parse(text)) is exactly the float32 we computed. Replies
// are ~45% shorter.
//
// Hand-written because it runs once per returned value: no strings, no Math.log10 (the decimal
// exponent comes from the float32 exponent bits), one or two candidates a value, digits written
// straight into the reply's bytes.

/** 10^0 … 10^22: exactly representable in float64, so n / 10^s is correctly rounded. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);
/** 10^(i − 50) for the decimal-exponent estimate (approximate is fine: it only picks a digit count). */
const POW10_ANY = Float64Array.from({ length: 100 }, (_, i) => 10 ** (i - 50));
const bits = new Uint32Array(1);
const f32 = new Float32Array(bits.buffer);

// The result of decimalOf(): digits N (an integer below 10^9) and scale S, value = N / 10^S.
let N = 0;
let S = 0;

/** |v| rounded to p significant digits (|v| < 10^(e+1)) into N, S; false when 10^|S| is inexact. */
function roundTo(a: number, p: number, e: number): boolean {
  const s = p - 1 - e;
  if (s > 22 || s < -22) return false;
  N = s >= 0 ? Math.round(a * POW10[s]) : Math.round(a / POW10[-s]);
  S = s;
  return true;
}

function value(): number {
  return S >= 0 ? N / POW10[S] : N * POW10[-S];
}

/**
 * Digits for the float32 v (finite, nonzero, normal) into N, S: 8 significant digits when they
 * round back to v (most values), else 9, which always do. false when the scale falls outside
 * float64's exact powers of ten (|v| below ~1e-14 or above ~1e22), where callers fall back.
 */
function decimalOf(v: number): boolean {
  f32[0] = v;
  const e2 = ((bits[0] >>> 23) & 0xff) - 127;
  const a = Math.abs(f32[0]);
  let e = Math.floor(e2 * 0.3010299956639812);
  if (a >= POW10_ANY[e + 51]) e++;
  if (roundTo(a, 8, e) && Math.fround(value()) === a) return true;
  return roundTo(a, 9, e) && Math.fround(value()) === a;
}

/**
 * The float64 that prints as decimalOf(v): the 8 or 9 digits that give back v (v itself beyond
 * float64's exact powers of ten).
 */
export function shortFloat32(v: number): number {
  if (v === 0 || !Number.isFinite(v) || !decimalOf(v)) return v;
  return v < 0 ? -value() : value();
}

/** Bytes one value can take, separator included: "-1.23456789e-38,"; the fallback (JSON.stringify
 *  of a value beyond float64's exact powers of ten, e.g. "-1.1754943508222875e-38") needs 24. */
export const MAX_VALUE_BYTES = 25;

const ZERO = 48;

function writeAscii(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}

/** Digits of n (0 < n < 10^10) ending before `end`, a '.' after the first `point` of them when 0 < point < digits. */
function digits(out: Uint8Array, end: number, n: number, count: number, point: number): void {
  let i = end;
  n |= 0; // below 10^9: int32 division, which V8 turns into a multiply
  for (let d = count; d > 0; d--) {
    if (d === point) out[--i] = 46; // '.'
    const q = (n / 10) | 0;
    out[--i] = ZERO + (n - q * 10);
    n = q;
  }
}

/**
 * Writes the float32 v as a JSON number at out[at]; returns the next offset. Same text as
 * JSON.stringify(shortFloat32(v)) (null for non-finite values, as JSON.stringify does).
 */
export function writeFloat32(out: Uint8Array, at: number, v: number): number {
  if (v === 0) {
    out[at] = ZERO;
    return at + 1;
  }
  if (!Number.isFinite(v) || !decimalOf(v)) return writeAscii(out, at, JSON.stringify(v));
  let n = N | 0; // below 10^9
  let s = S;
  for (let q = (n / 10) | 0; q * 10 === n; q = (n / 10) | 0) {
    n = q;
    s--;
  }
  if (v < 0) out[at++] = 45; // '-'
  let k = 1;
  while (k < 10 && n >= POW10[k]) k++;
  const point = k - s; // value = 0.D × 10^point, as in Number#toString
  if (point >= k && point <= 21) {
    digits(out, at + k, n, k, 0);
    at += k;
    for (let i = k; i < point; i++) out[at++] = ZERO;
  } else if (point > 0 && point <= 21) {
    digits(out, at + k + 1, n, k, point);
    at += k + 1;
  } else if (point > -6 && point <= 0) {
    out[at++] = ZERO;
    out[at++] = 46;
    for (let i = 0; i < -point; i++) out[at++] = ZERO;
    digits(out, at + k, n, k, 0);
    at += k;
  } else {
    const exp = point - 1;
    if (k > 1) {
      digits(out, at + k + 1, n, k, 1);
      at += k + 1;
    } else out[at++] = ZERO + n;
    out[at++] = 101; // 'e'
    out[at++] = exp < 0 ? 45 : 43;
    const a = Math.abs(exp);
    if (a >= 10) out[at++] = ZERO + Math.floor(a / 10);
    out[at++] = ZERO + (a % 10);
  }
  return at;
}

/** rows×k float32 values as a JSON array of arrays, appended at out[at]; returns the next offset. */
export function writeRows(out: Uint8Array, at: number, x: Float32Array, rows: number, k: number): number {
  out[at++] = 91; // '['
  at = writeRowRange(out, at, x, 0, rows, k);
  out[at++] = 93;
  return at;
}

/**
 * Rows from…to (exclusive) of a rows×k matrix as the inside of a JSON array: `[…],[…]`, with a
 * leading comma unless `from` is 0, so that consecutive ranges join into one array.
 */
export function writeRowRange(out: Uint8Array, at: number, x: Float32Array, from: number, to: number, k: number) {
  for (let i = from; i < to; i++) {
    if (i > 0) out[at++] = 44; // ','
    out[at++] = 91;
    const o = i * k;
    for (let j = 0; j < k; j++) {
      if (j > 0) out[at++] = 44;
      at = writeFloat32(out, at, x[o + j]);
    }
    out[at++] = 93; // ']'
  }
  return at;
}
