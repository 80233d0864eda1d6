// Checks on client JSON text before JSON.parse builds it, for what the grammar allows and this
// service does not take:
// - nesting deeper than MAX_JSON_DEPTH. No request body nests past a handful of levels, but
//   "[[[[…" costs JSON.parse ten times what flat text of the same size does, in time on the loop and
//   in memory kept after the refusal;
// - a \u escape that leaves a lone surrogate (\ud800 with no low half). The bytes are valid UTF-8, so
//   decodeUtf8 lets them through, but the string is not Unicode text: stored and read back it
//   turns into U+FFFD, so two distinct ids read the same and neither can be named to erase it.
// One pass, jumping between the characters that matter with native searches (a regular expression
// outside strings, indexOf inside): a regular expression alone cannot count depth, and JSON.parse
// with a reviver builds the tree first.
import { badRequest, type AppError } from '../errors.js';

export const MAX_JSON_DEPTH = 64;

const BACKSLASH = 92;
const U = 117;
/** Outside strings only quotes and brackets matter: the scan jumps between them (a flat body of
 *  numbers is a few structural characters in megabytes). */
const OUTSIDE = /["[\]{}]/g;

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** The 4 hex digits at `at` as a code unit, or -1 (JSON.parse then names the syntax error). */
function hex4(text: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 4; i++) {
    const h = hexDigit(text.charCodeAt(i));
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/**
 * Where the escape at `i` (a backslash) ends; negated when it leaves a lone surrogate (a number,
 * not an object: bodies of short escaped strings have millions of escapes).
 */
function escapeEnd(text: string, i: number): number {
  if (text.charCodeAt(i + 1) !== U) return i + 2;
  const c = hex4(text, i + 2);
  if (isLow(c)) return -(i + 6);
  if (!isHigh(c)) return i + 6;
  const pairs = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === U && isLow(hex4(text, i + 8));
  return pairs ? i + 12 : -(i + 6);
}

interface Scan {
  /** offset of the first bracket past MAX_JSON_DEPTH, or -1 */
  tooDeep: number;
  /** offset of the first escape leaving a lone surrogate, or -1 */
  lone: number;
}

/**
 * One pass over the text: depth is checked to the end even after a lone surrogate is found, so
 * the error paths that parse the text (to name a field) only ever parse text of bounded depth.
 */
function scan(text: string): Scan {
  const escapes = text.includes('\\u');
  let depth = 0;
  let lone = -1;
  let backslash = -1;
  let i = 0;
  for (;;) {
    OUTSIDE.lastIndex = i;
    const m = OUTSIDE.exec(text);
    if (m === null) return { tooDeep: -1, lone };
    i = m.index;
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      if (++depth > MAX_JSON_DEPTH) return { tooDeep: i, lone };
      i++;
      continue;
    }
    if (c !== 34) {
      depth--;
      i++;
      continue;
    }
    // a string: to its closing quote, by native searches (the next backslash is found once and
    // kept until passed, so a long string without one costs one search)
    i++;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (quote < 0) return { tooDeep: -1, lone };
      if (backslash < i) backslash = text.indexOf('\\', i);
      if (backslash < 0) backslash = Infinity;
      if (backslash > quote) {
        i = quote;
        break;
      }
      const end = escapes ? escapeEnd(text, backslash) : backslash + 2;
      if (end < 0 && lone < 0) lone = backslash;
      i = Math.abs(end);
    }
    i++;
  }
}

/** Whether the text nests past MAX_JSON_DEPTH (for the error paths that would parse it). */
export function nestsTooDeep(text: string): boolean {
  return scan(text).tooDeep >= 0;
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first key or string under v that `bad` holds for ("items[1].id"), or undefined. */
export function firstStringPath(v: unknown, bad: (s: string) => boolean, path = ''): string | undefined {
  if (typeof v === 'string') return bad(v) ? path : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = firstStringPath(v[i], bad, `${path}[${i}]`);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const here = path === '' ? k : `${path}.${k}`;
      if (bad(k)) return here;
      const p = firstStringPath(x, bad, here);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

function surrogateError(text: string, at: number, where: string): AppError {
  let field: string | undefined;
  try {
    field = firstStringPath(JSON.parse(text), (x) => LONE.test(x));
  } catch {
    /* a syntax error later on: name the offset only */
  }
  const escape = text.slice(at, at + 6);
  const what = field ? `${where === 'the body' ? '' : `${where}.`}${field}` : `${where} at character ${at}`;
  return badRequest(
    'INVALID_UTF8',
    `${what} holds ${escape}, half of a surrogate pair without its other half: not Unicode text, and not storable as UTF-8`,
  );
}

/**
 * Throws 400 INVALID_JSON for nesting past MAX_JSON_DEPTH, and 400 INVALID_UTF8 for a string or
 * key escaping a lone surrogate (naming it), before the text is parsed. `where` names the text
 * ("the body", "line 3"). Syntax errors are left to the parser.
 */
export function checkJsonText(text: string, where: string): void {
  const found = scan(text);
  if (found.tooDeep >= 0)
    throw badRequest(
      'INVALID_JSON',
      `${where} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at character ${found.tooDeep}); no request needs more`,
    );
  if (found.lone >= 0) throw surrogateError(text, found.lone, where);
}
