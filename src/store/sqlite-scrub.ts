// An erasure's bytes leave the SQLite files when a checkpoint copies the pages secure_delete zeroed
// into the file and truncates the WAL (docs/decisions/0034-identity-level-data.md). A reader of the
// file (an online `sqlite3 .backup`, docs/operations.md) keeps that checkpoint from finishing past
// the busy timeout: the rows are gone, their old bytes still in the file and the WAL. The erasure
// then answers 503 and the checkpoint is owed: the next erasure or delete, a retry of the same one
// included (whatever it answers), runs it after its own write. That write is never held back by the
// debt: an identity's erasure commits while the reader still reads, and answers 503 for its bytes.
// A process that died before its checkpoint is paid at the next open (src/store/sqlite.ts).
import type Database from 'better-sqlite3';
import { unavailableError } from '../domain/errors.js';

export class WalScrub {
  private owed = false;

  constructor(private readonly db: Database.Database) {}

  /** The checkpoint an earlier erasure still owes, after a delete that removed nothing or failed. */
  payOwed(): void {
    if (this.owed) this.run();
  }

  /** As payOwed, for a delete that failed: its own error is the answer, the debt stays if unpaid. */
  payOwedQuietly(): void {
    try {
      this.payOwed();
    } catch {
      // still owed; the next erasure or delete tries again
    }
  }

  /** After an erasure committed: the checkpoint, and a 503 when a reader kept it from finishing. */
  run(): void {
    const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    this.owed = result.busy !== 0;
    if (this.owed)
      throw unavailableError(
        'the erasure is stored, but a reader of the database (a backup?) still holds the pages it ' +
          'cleared: their old bytes stay in the file and its WAL until it ends; send the request again then',
      );
  }
}
