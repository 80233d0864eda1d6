// PostgreSQL failures of the storage (not of the statement) as domain errors: a lost or refused
// connection, or a statement the busy server gave up on (a timeout, a deadlock), is 503
// STORAGE_UNAVAILABLE, the server's disk_full is 507 STORAGE_FULL. Text the server cannot hold is
// the request's fault, 400 (below). Everything else (a bug, a constraint the code did not expect)
// stays what it was.
import { DomainError, invalidError, storageFullError, unavailableError } from '../domain/errors.js';

/** SQLSTATEs of a connection or a server that cannot take work: class 08, shutdown, no slots, a standby. */
const UNAVAILABLE_STATES = /^(08...|57P0[123]|53300|25006)$/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
/**
 * Text PostgreSQL cannot store: 22021 character_not_in_repertoire (U+0000 in text, "invalid byte
 * sequence for encoding UTF8: 0x00") and 22P05 untranslatable_character (a \u0000 escape read as
 * jsonb text). The HTTP layer refuses U+0000 first (src/http/nul.ts); this keeps any path it
 * misses a 400, as SQLite, which stores such text, would not fail at all.
 */
const UNSTORABLE_TEXT_STATES = new Set(['22021', '22P05']);
/**
 * SQLSTATEs of a statement the server gave up on while it was busy, worth a retry: query_canceled
 * (statement_timeout, or an administrator's cancel), lock_not_available (lock_timeout; an erasure's
 * VACUUM FULL holds its table), serialization_failure and deadlock_detected.
 */
const BUSY_STATES = new Set(['57014', '55P03', '40001', '40P01']);
/** pg reports a dropped connection or a pool timeout by message only */
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

export function pgStorageError(err: unknown, location: string): unknown {
  if (err instanceof DomainError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === '53100') return storageFullError(`PostgreSQL at ${location} is out of disk (${err.message})`);
  // the server's words name the character, not the field; no location (a client's mistake, not the server's)
  if (typeof code === 'string' && UNSTORABLE_TEXT_STATES.has(code))
    return invalidError('VALIDATION_ERROR', `the request holds text that cannot be stored: ${err.message}`);
  if (typeof code === 'string' && BUSY_STATES.has(code))
    return unavailableError(`PostgreSQL at ${location} is busy: ${err.message}`);
  if (
    (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || NETWORK_CODES.has(code))) ||
    CONNECTION_MESSAGES.test(err.message)
  ) {
    return unavailableError(`PostgreSQL at ${location} is unavailable: ${err.message}`);
  }
  return err;
}
