// The queue cap both backends check inside the transaction that queues a job.
import { DomainError } from '../domain/errors.js';
import type { CapacityLimit } from './types.js';

/** Throws QUEUE_FULL (kind limit) when `queued` jobs already fill the queue. */
export function checkQueue(queued: number, limit: CapacityLimit): void {
  if (queued >= limit.max) {
    throw new DomainError(
      'limit',
      'QUEUE_FULL',
      `${queued} jobs are already queued; the limit is ${limit.max} (${limit.setting}); try again later`,
    );
  }
}
