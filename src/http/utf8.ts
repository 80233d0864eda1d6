// Request text is decoded strictly: bytes that are not UTF-8 are refused with 400 INVALID_UTF8
// naming the field, rather than turned into U+FFFD, which would silently merge distinct labels.
import { badRequest, type AppError } from '../errors.js';
import { firstStringPath, nestsTooDeep } from './json-text.js';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The refusal for JSON text whose bytes were not UTF-8, naming the field when the text parses. */
function invalid(bytes: Uint8Array, where: string): AppError {
  let field: string | undefined;
  try {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    // parsed only to name the field, so never past the depth any body may have
    if (!nestsTooDeep(text)) field = firstStringPath(JSON.parse(text), (x) => x.includes('\uFFFD'));
  } catch {
    /* not JSON either: name the whole text */
  }
  if (field === undefined || field === '') return badRequest('INVALID_UTF8', `${where} is not valid UTF-8`);
  const sep = where === 'the body' ? '' : '.';
  return badRequest('INVALID_UTF8', `${where === 'the body' ? '' : where}${sep}${field} is not valid UTF-8`);
}

/** bytes as text; a 400 INVALID_UTF8 naming `where` (and the JSON field within) when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    throw invalid(bytes, where);
  }
}
