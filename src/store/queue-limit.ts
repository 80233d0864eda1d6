// The queue cap both backends check inside the transaction that queues a job.
import { queueFullError } from '../domain/errors.js';
import type { CapacityLimit } from './types.js';

/** Throws QUEUE_FULL (kind busy: 429) when `queued` jobs already fill the queue. */
export function checkQueue(queued: number, limit: CapacityLimit): void {
  if (queued >= limit.max) {
    throw queueFullError(
      `${queued} jobs are already queued; the limit is ${limit.max} (${limit.setting}); try again later`,
    );
  }
}
