// What every job passes before it is queued, whatever its kind: room in the queue (looked at first,
// so a full queue refuses before anything is stored or held; the store checks it again inside the
// inserting transaction, src/store/queue-limit.ts) and an estimate within the job memory budget
// (a job over it alone could never start).
import type { Limits } from '../config.js';
import { overJobBudget, type CostEstimate } from '../domain/costs.js';
import { AppError, unprocessable } from '../errors.js';
import type { CapacityLimit, Store } from '../store/types.js';

/** The queue cap the store checks in the transaction that queues a job. */
export const queueLimit = (limits: Limits): CapacityLimit => ({
  max: limits.maxQueuedJobs,
  setting: 'MAX_QUEUED_JOBS',
});

/** 429 QUEUE_FULL when MAX_QUEUED_JOBS jobs are already queued. */
export async function checkQueueRoom(store: Store, limits: Limits): Promise<void> {
  if ((await store.countJobs('queued')) >= limits.maxQueuedJobs) {
    throw new AppError(
      429,
      'QUEUE_FULL',
      `${limits.maxQueuedJobs} jobs are already queued (MAX_QUEUED_JOBS); try again later`,
    );
  }
}

/** 422 BUDGET_EXCEEDED for an estimate over JOB_MEMORY_BUDGET_MB. */
export function checkJobBudget(cost: CostEstimate, limits: Limits): void {
  const why = overJobBudget(cost, limits.jobMemoryBudgetMb);
  if (why) throw unprocessable('BUDGET_EXCEEDED', why);
}
