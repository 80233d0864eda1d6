// How the service waits for a storage that went away (a PostgreSQL restart, a cut connection):
// doubling delays from a first one up to a cap, each jittered by ±25% so that replicas cut off
// together do not all try again in the same instant. The change feed's reconnect and a trained
// model's write both wait this way.

/** The delay before retry `attempt` (0 for the first): first·2^attempt, at most max, jittered. */
export function backoffDelay(attempt: number, firstMs: number, maxMs: number, random = Math.random): number {
  return Math.min(maxMs, firstMs * 2 ** attempt) * (0.75 + random() / 2);
}
