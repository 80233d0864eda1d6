// PostgreSQL failures of the storage (not of the statement) as domain errors: a lost or refused
// connection is 503 STORAGE_UNAVAILABLE, the server's disk_full is 507 STORAGE_FULL. Everything
// else (a bug, a constraint the code did not expect) stays what it was.
import { DomainError, storageFullError, unavailableError } from '../domain/errors.js';

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
/** pg reports a dropped connection or a pool timeout by message only */
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

export function pgStorageError(err: unknown, location: string): unknown {
  if (err instanceof DomainError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (code === '53100') return storageFullError(`PostgreSQL at ${location} is out of disk (${err.message})`);
  if (
    (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || NETWORK_CODES.has(code))) ||
    CONNECTION_MESSAGES.test(err.message)
  ) {
    return unavailableError(`PostgreSQL at ${location} is unavailable: ${err.message}`);
  }
  return err;
}
