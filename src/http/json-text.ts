// Checks on client JSON text before JSON.parse builds it, for what the grammar allows and this
// service does not take:
// - nesting deeper than MAX_JSON_DEPTH. No request body nests past a handful of levels, but
//   "[[[[…" costs JSON.parse ten times what flat text of the same size does, in time on the loop and
//   in memory kept after the refusal;
// - a \u escape that leaves a lone surrogate (\ud800 with no low half). The bytes are valid UTF-8, so
//   decodeUtf8 lets them through, but the string is not Unicode text: stored and read back it
//   turns into U+FFFD, so two distinct ids read the same and neither can be named to erase it.
// One pass over the characters, in a loop because the scan is the cost being bounded: a regular
// expression cannot count depth, and JSON.parse with a reviver builds the tree first.
import { badRequest, type AppError } from '../errors.js';

export const MAX_JSON_DEPTH = 64;

const QUOTE = 34;
const BACKSLASH = 92;
const U = 117;

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

function hex4(text: string, at: number): number {
  const v = Number.parseInt(text.slice(at, at + 4), 16);
  return /^[0-9a-fA-F]{4}$/.test(text.slice(at, at + 4)) ? v : -1;
}

/** Where a string's escapes end: the index after the escape at `i` (a backslash), and whether it left a lone surrogate. */
function escapeAt(text: string, i: number): { next: number; lone: boolean } {
  if (text.charCodeAt(i + 1) !== U) return { next: i + 2, lone: false };
  const c = hex4(text, i + 2);
  if (isLow(c)) return { next: i + 6, lone: true };
  if (!isHigh(c)) return { next: i + 6, lone: false };
  const pairs = text.charCodeAt(i + 6) === BACKSLASH && text.charCodeAt(i + 7) === U && isLow(hex4(text, i + 8));
  return pairs ? { next: i + 12, lone: false } : { next: i + 6, lone: true };
}

/** The first problem in the text, or null: its kind and the character offset. */
function scan(text: string): { kind: 'depth' | 'surrogate'; at: number } | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) {
        const e = escapeAt(text, i);
        if (e.lone) return { kind: 'surrogate', at: i };
        i = e.next;
        continue;
      }
      if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > MAX_JSON_DEPTH) return { kind: 'depth', at: i };
    } else if (c === 93 || c === 125) depth--;
    i++;
  }
  return null;
}

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The path of the first key or string under v that is not well-formed Unicode. */
function illFormed(v: unknown, path: string): string | undefined {
  if (typeof v === 'string') return LONE.test(v) ? path : undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const p = illFormed(v[i], `${path}[${i}]`);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const here = path === '' ? k : `${path}.${k}`;
      if (LONE.test(k)) return here;
      const p = illFormed(x, here);
      if (p !== undefined) return p;
    }
  }
  return undefined;
}

function surrogateError(text: string, at: number, where: string): AppError {
  let field: string | undefined;
  try {
    field = illFormed(JSON.parse(text), '');
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
  const problem = scan(text);
  if (problem === null) return;
  if (problem.kind === 'depth')
    throw badRequest(
      'INVALID_JSON',
      `${where} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (at character ${problem.at}); no request needs more`,
    );
  throw surrogateError(text, problem.at, where);
}
