// What can go wrong under an open SQLite database, and how it is told: the file deleted or
// replaced behind the open handle (writes would land in an unlinked inode and vanish at restart),
// the disk full, an I/O error. better-sqlite3 keeps writing to the inode it opened, so the path is
// compared with the identity recorded at open before and after every write.
import fs from 'node:fs';
import { DomainError, storageFullError, unavailableError } from '../domain/errors.js';

interface FileIdentity {
  path: string;
  dev: number;
  ino: number;
}

/** The files whose identity is watched: the database and, in WAL mode, its log (commits land there first). */
export function recordIdentity(paths: string[]): FileIdentity[] {
  const out: FileIdentity[] = [];
  for (const p of paths) {
    const st = statOrUndefined(p);
    if (st) out.push({ path: p, dev: st.dev, ino: st.ino });
  }
  return out;
}

function statOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p);
  } catch {
    return undefined;
  }
}

/** Why the recorded files are no longer the ones at their paths; undefined while they are. */
export function identityLost(files: FileIdentity[]): string | undefined {
  for (const f of files) {
    const st = statOrUndefined(f.path);
    if (!st) return `the database file ${f.path} was deleted while open`;
    if (st.ino !== f.ino || st.dev !== f.dev) return `the database file ${f.path} was replaced while open`;
  }
  return undefined;
}

/** SQLite result codes that mean the storage failed, not the statement. */
const FAILED_STORAGE = /^SQLITE_(IOERR|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/;

/** A failure of the storage as a domain error (503 or 507); anything else is returned as it is. */
export function storageError(err: unknown, file: string): unknown {
  if (err instanceof DomainError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
    return storageFullError(`the disk holding ${file} is full (${code}); the write was not stored`);
  }
  if (code.startsWith('SQLITE_BUSY')) {
    return unavailableError(
      `the database ${file} stayed locked by another process (${code}); the write was not stored`,
    );
  }
  if (FAILED_STORAGE.test(code)) {
    return unavailableError(`the database ${file} failed a write (${code}: ${err.message}); it was not stored`);
  }
  return err;
}

/** true for the failures that make the store unready until a write succeeds again (not a passing lock) */
export function isStorageFailure(err: unknown, cause: unknown): boolean {
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return false;
  return err instanceof DomainError && (err.kind === 'storage_full' || err.kind === 'unavailable');
}

/** Free space an out-of-space store waits for, over what was free when the write failed, before it is ready again. */
export const RECOVERY_BYTES = 1024 * 1024;

/** Bytes free to this process on the file system holding `dir`; Infinity when it cannot be told. */
export function freeBytes(dir: string): number {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}
