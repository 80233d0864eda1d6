// The two evaluation budgets (EVALUATION_MEMORY_MB, EVALUATION_MAX_WORK), checked the same way for a
// dataset and for a gallery with probes; only what is measured and how its work is counted differ.
import type { Limits } from '../config.js';
import { AppError } from '../errors.js';

const mib = (bytes: number) => Math.ceil(bytes / 2 ** 20);

export interface EvaluationCost {
  /** every byte the evaluation holds at once, the verification pass's included */
  bytes: number;
  /** multiply-adds and their equivalents */
  work: number;
  /** the verification pass's share of `bytes` */
  verificationBytes: number;
}

/**
 * 422 LIMIT_EXCEEDED naming the budget when the cost is over it. `what`: the evaluation in words;
 * `counted`: how its work was counted, written after "multiply-adds".
 */
export function checkEvaluationBudgets(limits: Limits, what: string, cost: EvaluationCost, counted: string): void {
  if (cost.bytes > limits.evaluationBytes)
    throw new AppError(
      422,
      'LIMIT_EXCEEDED',
      `${what} needs ${mib(cost.bytes)} MiB (of which the verification pass ${mib(cost.verificationBytes)} MiB); ` +
        `the budget is ${mib(limits.evaluationBytes)} MiB (EVALUATION_MEMORY_MB)`,
    );
  if (cost.work > limits.evaluationMaxWork)
    throw new AppError(
      422,
      'LIMIT_EXCEEDED',
      `${what} is ${cost.work.toExponential(2)} multiply-adds${counted}; the budget is ` +
        `${limits.evaluationMaxWork.toExponential(2)} (EVALUATION_MAX_WORK)`,
    );
}
