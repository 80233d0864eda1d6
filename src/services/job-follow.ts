// Following jobs for their event streams (GET /jobs/:id/events) from two sources: the runner of
// this process, which hands over each record of its own jobs as it writes them, and the store's
// change feed, which says which job any replica wrote, so the job is read again. One read serves
// every stream of a job, and changes arriving while it runs cost one more read, not one each.
import type { EventEmitter } from 'node:events';
import type { JobRecord, Store, StoreChange } from '../store/types.js';

type Listener = (job: JobRecord) => void;

interface Followed {
  readonly id: string;
  readonly listeners: Set<Listener>;
  /** a read of the job is under way */
  reading: boolean;
  /** a change came while it ran: read once more after it */
  again: boolean;
  /** counts the runner's records; a read begun before one may be older than it */
  localRecords: number;
  /** the last record handed out, as JSON: the same state is handed out once */
  last: string | undefined;
}

/** While the feed is down (events are missed), followed jobs are read again this often instead. */
export const POLL_WHILE_LOST_MS = 1000;

export class JobFollowers {
  private readonly followed = new Map<string, Followed>();
  private unwatch: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    /** the runner's `job` events (src/jobs/runner.ts) */
    private readonly local: EventEmitter,
  ) {}

  /** Calls listener with each new state of the job, in order; returns the unsubscribe. */
  follow(id: string, listener: Listener): () => void {
    let f = this.followed.get(id);
    if (!f) {
      f = { id, listeners: new Set(), reading: false, again: false, localRecords: 0, last: undefined };
      this.followed.set(id, f);
    }
    f.listeners.add(listener);
    // Sources are listened to only while someone follows a job.
    if (!this.unwatch) {
      this.local.on('job', this.onLocal);
      this.unwatch = this.store.watch(this.onChange);
    }
    const followed = f;
    return () => {
      followed.listeners.delete(listener);
      if (followed.listeners.size === 0 && this.followed.get(id) === followed) this.followed.delete(id);
      if (this.followed.size === 0) this.stop();
    };
  }

  private stop(): void {
    this.local.off('job', this.onLocal);
    this.unwatch?.();
    this.unwatch = undefined;
    clearInterval(this.poll);
    this.poll = undefined;
  }

  private readonly onLocal = (job: JobRecord): void => {
    const f = this.followed.get(job.id);
    if (!f) return;
    f.localRecords++;
    this.deliver(f, job);
  };

  private readonly onChange = (change: StoreChange): void => {
    if (change.kind === 'change') {
      const f = change.table === 'jobs' ? this.followed.get(change.id) : undefined;
      if (f) this.read(f);
    } else if (change.kind === 'lost') {
      if (!this.poll) {
        this.poll = setInterval(() => this.readAll(), POLL_WHILE_LOST_MS);
        this.poll.unref();
      }
    } else {
      clearInterval(this.poll);
      this.poll = undefined;
      this.readAll();
    }
  };

  private readAll(): void {
    for (const f of this.followed.values()) this.read(f);
  }

  /**
   * Reads the job again, one read at a time. A read overtaken by a record from the runner is not
   * handed out (it may be the older of the two, and a stream must not step back to a status it
   * left); the job is read once more instead, so a write of another replica is not lost with it.
   */
  private read(f: Followed): void {
    if (f.reading) {
      f.again = true;
      return;
    }
    f.reading = true;
    void this.readOnce(f).finally(() => {
      f.reading = false;
      if (f.again && this.followed.get(f.id) === f) {
        f.again = false;
        this.read(f);
      }
    });
  }

  private async readOnce(f: Followed): Promise<void> {
    const before = f.localRecords;
    let job: JobRecord | undefined;
    try {
      job = await this.store.getJob(f.id);
    } catch {
      // The store failed (PostgreSQL restarting): its feed says lost, then resync, and the job is read again.
      return;
    }
    if (!job) return;
    if (f.localRecords === before) this.deliver(f, job);
    else f.again = true;
  }

  private deliver(f: Followed, job: JobRecord): void {
    const text = JSON.stringify(job);
    if (text === f.last) return; // the runner's record and the read of its write are one state
    f.last = text;
    for (const listener of [...f.listeners]) {
      try {
        listener(job);
      } catch {
        // a stream's failure is its own (its socket closes it); the others still hear
      }
    }
  }
}
