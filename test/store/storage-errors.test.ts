// How each backend's storage failures become domain errors (503 or 507, 400 for text PostgreSQL
// cannot hold) and what stays as it was.
import t from 'tap';
import { DomainError, notFoundError } from '../../src/domain/errors.js';
import { pgStorageError } from '../../src/store/postgres-errors.js';
import { isStorageFailure, storageError } from '../../src/store/sqlite-health.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

t.test('SQLite codes', async (t) => {
  const full = storageError(coded('SQLITE_FULL', 'database or disk is full'), '/d/db');
  t.match(full, { kind: 'storage_full', code: 'STORAGE_FULL', message: /disk holding \/d\/db is full/ });
  t.match(storageError(coded('ENOSPC'), 'f'), { code: 'STORAGE_FULL' });
  for (const c of [
    'SQLITE_IOERR_WRITE',
    'SQLITE_IOERR_FSYNC',
    'SQLITE_READONLY',
    'SQLITE_CORRUPT',
    'SQLITE_CANTOPEN',
  ]) {
    const e = storageError(coded(c), 'f');
    t.match(e, { kind: 'unavailable', code: 'STORAGE_UNAVAILABLE' }, c);
    t.ok(isStorageFailure(e, coded(c)), `${c} makes the store unready`);
  }
  const busy = coded('SQLITE_BUSY');
  t.match(storageError(busy, 'f'), { code: 'STORAGE_UNAVAILABLE', message: /locked by another process/ });
  t.notOk(isStorageFailure(storageError(busy, 'f'), busy), 'a lock held elsewhere passes: readiness stays');
  const constraint = coded('SQLITE_CONSTRAINT_UNIQUE');
  t.equal(storageError(constraint, 'f'), constraint, 'a statement error stays what it was');
  const domain = notFoundError('DATASET_NOT_FOUND', 'gone');
  t.equal(storageError(domain, 'f'), domain);
});

t.test('PostgreSQL states and connection errors', async (t) => {
  t.match(pgStorageError(coded('53100'), 'pg://h'), { kind: 'storage_full', code: 'STORAGE_FULL' });
  for (const c of ['08006', '08001', '57P01', '57P03', '53300', '25006', 'ECONNREFUSED', 'ECONNRESET']) {
    t.match(pgStorageError(coded(c), 'pg://h'), { code: 'STORAGE_UNAVAILABLE', message: /pg:\/\/h/ }, c);
  }
  t.match(pgStorageError(new Error('Connection terminated unexpectedly'), 'pg://h'), { code: 'STORAGE_UNAVAILABLE' });
  // a statement the busy server gave up on (test/store/postgres-timeouts.test.ts runs the first two)
  for (const c of ['57014', '55P03', '40001', '40P01']) {
    t.match(pgStorageError(coded(c), 'pg://h'), { code: 'STORAGE_UNAVAILABLE', message: /pg:\/\/h is busy/ }, c);
  }
  // text the server cannot hold (U+0000) is the request's fault: 400, never a 500 (src/http/nul.ts)
  for (const c of ['22021', '22P05']) {
    const e = pgStorageError(coded(c, 'invalid byte sequence for encoding "UTF8": 0x00'), 'pg://h');
    t.ok(e instanceof DomainError, c);
    t.match(e, { kind: 'invalid', code: 'VALIDATION_ERROR', message: /cannot be stored: invalid byte sequence/ }, c);
    t.notMatch((e as Error).message, /pg:\/\/h/, `${c}: a client's mistake does not name the server`);
  }
  const unique = coded('23505');
  t.equal(pgStorageError(unique, 'pg://h'), unique, 'a constraint violation stays what it was');
  t.ok(pgStorageError(notFoundError('JOB_NOT_FOUND', 'x'), 'pg://h') instanceof DomainError);
});
