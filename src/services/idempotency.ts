// Idempotency-Key on uploads (docs/decisions/0034-identity-level-data.md). A key is scoped to its
// route, its target and its caller; the store records it with the first reply in the transaction
// that appends the rows, so a retry with the same key and body gets that reply and appends
// nothing, even after a crash or a restart. The same key with another body is refused (422); one
// still in flight in this process gets 409. Across replicas, two requests racing with one key both
// run, and the second's commit finds the first's key and rolls back: it answers as a retry would.
import { createHash } from 'node:crypto';
import { DomainError } from '../domain/errors.js';
import { badRequest, conflict, unprocessable } from '../errors.js';
import type { IdempotentWrite, Store, StoredIdempotencyKey } from '../store/types.js';

/** 1 to 255 printable ASCII characters (space to tilde), as Stripe and the IETF draft allow. */
const KEY_SYNTAX = /^[\x20-\x7e]{1,255}$/;

/** An upload's key as the service carries it to the commit. */
export interface IdempotencyTicket {
  scope: string;
  key: string;
  ttlMs: number;
  /** the raw body's SHA-256 (hex); asked for only once the body has been read to its end */
  bodyHash: () => string;
}

/** The write to record for a ticket, with the reply the commit gives. */
export function idempotentWrite(
  ticket: IdempotencyTicket,
  status: number,
  reply: Record<string, unknown>,
  counts: IdempotentWrite['counts'],
): IdempotentWrite {
  return {
    scope: ticket.scope,
    key: ticket.key,
    ttlMs: ticket.ttlMs,
    bodyHash: ticket.bodyHash(),
    status,
    reply,
    counts,
  };
}

export interface IdempotentReply {
  status: number;
  body: unknown;
  /** true when this is the first request's reply, given again */
  replayed: boolean;
}

/** The key of the Idempotency-Key header: undefined without one, 400 when it is not valid. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header) || !KEY_SYNTAX.test(header))
    throw badRequest(
      'INVALID_IDEMPOTENCY_KEY',
      'the Idempotency-Key header must be one value of 1 to 255 printable ASCII characters',
    );
  return header;
}

/** A key's scope: the route, the target's id and who calls (a hash of the API key; never the key). */
export function idempotencyScope(route: string, target: string, bearer: string | undefined): string {
  const caller = bearer === undefined ? '-' : createHash('sha256').update(bearer).digest('hex').slice(0, 32);
  return `${route} ${target} ${caller}`;
}

export class IdempotencyService {
  /** scope + key of the requests running in this process */
  private readonly running = new Set<string>();

  constructor(
    private readonly store: Store,
    readonly ttlMs: number,
  ) {}

  /**
   * Runs `append` once per key. `drain` reads the rest of the body (so its hash is complete) when
   * the key turns out to be known before the body was read.
   */
  async run(
    ticket: IdempotencyTicket,
    drain: () => Promise<void>,
    append: (ticket: IdempotencyTicket) => Promise<{ status: number; body: unknown }>,
  ): Promise<IdempotentReply> {
    const id = `${ticket.scope}\n${ticket.key}`;
    if (this.running.has(id))
      throw conflict(
        'IDEMPOTENCY_KEY_IN_FLIGHT',
        `a request with Idempotency-Key ${JSON.stringify(ticket.key)} is still running; retry once it has answered`,
      );
    this.running.add(id);
    try {
      const known = await this.store.getIdempotencyKey(ticket.scope, ticket.key);
      if (known) {
        await drain();
        return this.replay(ticket, known);
      }
      try {
        return { ...(await append(ticket)), replayed: false };
      } catch (e) {
        // Another replica committed this key first: this commit rolled back, and answers as a retry.
        if (!(e instanceof DomainError) || e.code !== 'IDEMPOTENCY_KEY_IN_FLIGHT') throw e;
        const first = await this.store.getIdempotencyKey(ticket.scope, ticket.key);
        if (!first) throw e;
        return this.replay(ticket, first);
      }
    } finally {
      this.running.delete(id);
    }
  }

  private replay(ticket: IdempotencyTicket, known: StoredIdempotencyKey): IdempotentReply {
    if (known.bodyHash !== ticket.bodyHash())
      throw unprocessable(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key ${JSON.stringify(ticket.key)} was used at ${known.createdAt} with another body; ` +
          'use a new key for a new upload',
      );
    return { status: known.status, body: known.reply, replayed: true };
  }
}
