// The PostgreSQL change feed: one connection of its own (a pooled one cannot hold a LISTEN) that
// LISTENs on the channel the triggers of migration 2 notify (src/store/postgres-migrations.ts),
// and hands each notification to the store's listeners. When the connection is lost (the server
// restarted, the connection was killed, a ping went unanswered) it says `lost`, reconnects with
// back-off, LISTENs again and says `resync`: notifications sent meanwhile are gone for good.
// It never throws into the process: every error of its connection is handled here.
// docs/decisions/0022-change-feed-listen-notify.md.
import pg from 'pg';
import { backoffDelay } from '../domain/backoff.js';
import type { ChangeHub } from './change-feed.js';
import type { ChangeTable, StoreChange } from './types.js';

/** The channel migration 2's trigger function notifies (fixed there, as a shipped migration is). */
export const CHANGE_CHANNEL = 'triplet_embed_changes';

export interface ChangeFeedOptions {
  /** the first reconnect's delay; each failed attempt doubles it (default 100 ms) */
  minBackoffMs?: number;
  /** the longest delay between attempts (default 5 s) */
  maxBackoffMs?: number;
  /** how often the idle connection is asked to answer, to find one that died silently (default 15 s) */
  pingMs?: number;
  /** how long a connect or a ping may take before the connection is given up (default 10 s) */
  timeoutMs?: number;
}

const TABLES = new Set<string>(['jobs', 'models', 'datasets', 'aliases', 'galleries']);
const OPS = new Set<string>(['insert', 'update', 'delete']);

/** A notification's payload as an event; undefined when it is not one of ours. */
export function parseChange(payload: string | undefined): StoreChange | undefined {
  try {
    const p = JSON.parse(payload ?? '') as { table?: unknown; id?: unknown; op?: unknown };
    if (typeof p.table !== 'string' || !TABLES.has(p.table)) return undefined;
    if (typeof p.id !== 'string' || typeof p.op !== 'string' || !OPS.has(p.op)) return undefined;
    return { kind: 'change', table: p.table as ChangeTable, id: p.id, op: p.op as 'insert' | 'update' | 'delete' };
  } catch {
    return undefined;
  }
}

export class PgChangeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly ping: NodeJS.Timeout;
  private pinging = false;
  private attempts = 0;
  /** `lost` was said and `resync` is owed once LISTEN is back */
  private lost = false;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly hub: ChangeHub,
    options: ChangeFeedOptions = {},
  ) {
    this.minBackoffMs = options.minBackoffMs ?? 100;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.ping = setInterval(() => void this.checkAlive(), options.pingMs ?? 15_000);
    this.ping.unref();
  }

  /** Connects and LISTENs. Never rejects: without a connection the feed says `lost` and keeps trying. */
  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    this.retry = undefined;
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.url,
      application_name: 'triplet-embed-listen',
      keepAlive: true,
      connectionTimeoutMillis: this.timeoutMs,
    });
    this.client = client;
    // Without an 'error' listener a lost connection would end the process.
    client.on('error', (err) => this.drop(client, err));
    client.on('end', () => this.drop(client, new Error('the connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel !== CHANGE_CHANNEL || this.client !== client) return;
      const change = parseChange(msg.payload);
      if (change) this.hub.emit(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (err) {
      this.drop(client, err as Error);
      return;
    }
    if (this.client !== client) return; // closed, or dropped while it connected
    this.attempts = 0;
    if (this.lost) {
      this.lost = false;
      this.hub.emit({ kind: 'resync', reason: 'the change feed is listening again; changes meanwhile were missed' });
    }
  }

  /** Gives up a connection (once): says `lost` and schedules the next attempt. */
  private drop(client: pg.Client, err: Error): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.closed) return;
    if (!this.lost) {
      this.lost = true;
      this.hub.emit({ kind: 'lost', reason: `the change feed lost its PostgreSQL connection: ${err.message}` });
    }
    const delay = backoffDelay(this.attempts++, this.minBackoffMs, this.maxBackoffMs);
    this.retry = setTimeout(() => void this.connect(), delay);
    this.retry.unref();
  }

  /** A connection that died without a word (a network cut) is found by a query it cannot answer. */
  private async checkAlive(): Promise<void> {
    const client = this.client;
    if (!client || this.lost || this.pinging) return;
    this.pinging = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer to a ping within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      this.drop(client, err as Error);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.ping);
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
