// SHA-256 of a request's raw body, taken as the body is read: JSON bodies when they are parsed
// (body-parsers.ts), streamed uploads chunk by chunk as their readers take them (streams.ts). An
// Idempotency-Key compares it with the first request's (docs/decisions/0034-identity-level-data.md).
import { createHash, type Hash } from 'node:crypto';

const HASH = Symbol('body hash');
type Hashed = object & { [HASH]?: BodyHash };

export class BodyHash {
  private readonly hash: Hash = createHash('sha256');
  private hex: string | undefined;

  update(bytes: Uint8Array): void {
    if (this.hex !== undefined) throw new Error('the body hash was read before the body ended');
    this.hash.update(bytes);
  }

  /** The hex digest; the body must have been read to its end. */
  digest(): string {
    this.hex ??= this.hash.digest('hex');
    return this.hex;
  }
}

/** Starts hashing what is read from `raw` (the request), before a byte of its body is read. */
export function hashBody(raw: object): BodyHash {
  const h = new BodyHash();
  (raw as Hashed)[HASH] = h;
  return h;
}

/** The hash being taken of this stream's or request's body, if any. */
export function bodyHashOf(raw: object): BodyHash | undefined {
  return (raw as Hashed)[HASH];
}
