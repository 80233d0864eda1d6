// Checks on client JSON text before JSON.parse builds it, for what the grammar allows and this
// service does not take:
// - nesting deeper than MAX_JSON_DEPTH. No request body nests past a handful of levels, but
//   "[[[[…" costs JSON.parse ten times what flat text of the same size does, in time on the loop and
//   in memory kept after the refusal;
// - a \u escape that leaves a lone surrogate (\ud800 with no low half). The bytes are valid UTF-8, so
//   decodeUtf8 lets them through, but the string is not Unicode text: stored and read back it
//   turns into U+FFFD, so two distinct ids read the same and neither can be named to erase it;
// - a \u0000 escape (U+0000, NUL): valid Unicode, but PostgreSQL's text cannot hold it, so it was
//   stored on SQLite and a 500 on PostgreSQL (nul.ts). Refused in every string and key alike.
// One pass, jumping between the characters that matter with native searches (a regular expression
// outside strings, indexOf inside): a regular expression alone cannot count depth, and JSON.parse
// with a reviver builds the tree first.
import { badRequest, type AppError } from '../errors.js';
import { NUL_RULE } from './nul.js';

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
 * Where the escape at `i` (a backslash) ends; negated when it is refused, leaving a lone surrogate
 * or escaping U+0000 (a number, not an object: bodies of short escaped strings have millions of
 * escapes; which of the two is read again from the text when there is one to report).
 */
function escapeEnd(text: string, i: number): number {
  if (text.charCodeAt(i + 1) !== U) return i + 2;
  const c = hex4(text, i + 2);
  if (c === 0 || isLow(c)) return -(i + 6);
  if (!isHigh(c)) return i + 6;
  const pairs = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === U && isLow(hex4(text, i + 8));
  return pairs ? i + 12 : -(i + 6);
}

interface Scan {
  /** offset of the first bracket past MAX_JSON_DEPTH, or -1 */
  tooDeep: number;
  /** offset of the first refused escape (a lone surrogate or U+0000), or -1 */
  refused: number;
}

/**
 * One pass over the text: depth is checked to the end even after a lone surrogate is found, so
 * the error paths that parse the text (to name a field) only ever parse text of bounded depth.
 */
function scan(text: string): Scan {
  const escapes = text.includes('\\u');
  let depth = 0;
  let refused = -1;
  let backslash = -1;
  let i = 0;
  for (;;) {
    OUTSIDE.lastIndex = i;
    const m = OUTSIDE.exec(text);
    if (m === null) return { tooDeep: -1, refused };
    i = m.index;
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      if (++depth > MAX_JSON_DEPTH) return { tooDeep: i, refused };
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
      if (quote < 0) return { tooDeep: -1, refused };
      if (backslash < i) backslash = text.indexOf('\\', i);
      if (backslash < 0) backslash = Infinity;
      if (backslash > quote) {
        i = quote;
        break;
      }
      const end = escapes ? escapeEnd(text, backslash) : backslash + 2;
      if (end < 0 && refused < 0) refused = backslash;
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

/** The field (a string or key) `bad` holds for, as "items[1].id" or "line 3.id", else the offset. */
function fieldOf(text: string, bad: (s: string) => boolean, at: number, where: string): string {
  let field: string | undefined;
  try {
    field = firstStringPath(JSON.parse(text), bad);
  } catch {
    /* a syntax error later on: name the offset only */
  }
  return field ? `${where === 'the body' ? '' : `${where}.`}${field}` : `${where} at character ${at}`;
}

function surrogateError(text: string, at: number, where: string): AppError {
  const escape = text.slice(at, at + 6);
  const what = fieldOf(text, (x) => LONE.test(x), at, where);
  return badRequest(
    'INVALID_UTF8',
    `${what} holds ${escape}, half of a surrogate pair without its other half: not Unicode text, and not storable as UTF-8`,
  );
}

/**
 * U+0000 escaped: 400 VALIDATION_ERROR, not INVALID_UTF8, since the text is valid UTF-8 and valid
 * Unicode (a client told to fix its encoding would find nothing wrong); what it breaks is a rule
 * every text field has, as a field too long does.
 */
function nulError(text: string, at: number, where: string): AppError {
  // a key holding the NUL is named with it escaped, as the client wrote it
  const what = fieldOf(text, (x) => x.includes('\0'), at, where).replace(/\0/g, '\\u0000');
  return badRequest('VALIDATION_ERROR', `${what} holds \\u0000 ${NUL_RULE}`);
}

/**
 * Throws 400 INVALID_JSON for nesting past MAX_JSON_DEPTH, 400 INVALID_UTF8 for a string or key
 * escaping a lone surrogate, and 400 VALIDATION_ERROR for one escaping U+0000 (naming the field),
 * before the text is parsed. `where` names the text ("the body", "line 3"). Syntax errors are left
 * to the parser.
 */
export function checkJsonText(text: string, where: string): void {
  const found = scan(text);
  if (found.tooDeep >= 0)
    throw badRequest(
      'INVALID_JSON',
      `${where} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at character ${found.tooDeep}); no request needs more`,
    );
  if (found.refused < 0) return;
  throw hex4(text, found.refused + 2) === 0
    ? nulError(text, found.refused, where)
    : surrogateError(text, found.refused, where);
}
