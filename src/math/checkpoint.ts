// Checkpoints of a training run: the complete state at an iteration boundary as plain,
// structured-cloneable data (typed arrays, numbers, strings, booleans), so another process can
// resume the run and finish with the same W, bit for bit (docs/decisions/0020-checkpoint-resume.md).
import type { DescentState } from './optim/types.js';
import type { TrainParams, Triplets } from './types.js';

export const CHECKPOINT_VERSION = 1;

/** The hooks every trainer takes for checkpoints; C is its checkpoint type. */
export interface CheckpointHooks<C> {
  /**
   * Receives a checkpoint (a fresh copy the trainer never touches again) at the iteration boundaries
   * the two options below select: iteration 0 (after the start's evaluation) and after each
   * accepted step that does not end the run.
   */
  onCheckpoint?: (c: C) => void;
  /** a checkpoint every this many iterations (0 included) */
  checkpointEvery?: number;
  /**
   * the caller's own rule, e.g. time-based on its own clock (the core reads none for this); or-ed
   * with checkpointEvery. With neither, every boundary gets a checkpoint.
   */
  checkpointDue?: (iteration: number) => boolean;
  /** continue this checkpoint's run instead of starting (params and data must be the run's) */
  resumeFrom?: C;
}

/**
 * Checkpoint of `train` (L-BFGS or CG). `x` is the optimiser's coordinates after `iteration`
 * accepted steps: σ·W (k×d row-major), or σ·W·R⁻¹ when whitened.
 */
export interface TrainCheckpoint extends DescentState {
  kind: 'train';
  version: number;
  /** the run's params, compared field by field on resume */
  params: TrainParams;
  d: number;
  m: number;
  /** active triplets at the latest evaluation (the progress report's activeFraction) */
  lastActive: number;
  /** ‖W₀‖_F of the start, which the weight-growth warning compares against */
  initialWeightNorm: number;
  /** σ of the coordinates (training/scale.ts); absent in checkpoints written before it: 1 */
  scale?: number;
}

/** When a checkpoint is due, from the hooks; throws a RangeError for a bad checkpointEvery. */
export function checkpointRule(
  h: Pick<CheckpointHooks<never>, 'checkpointEvery' | 'checkpointDue'>,
): (iteration: number) => boolean {
  const every = h.checkpointEvery;
  const due = h.checkpointDue;
  if (every !== undefined && !(Number.isInteger(every) && every > 0))
    throw new RangeError(`checkpointEvery must be a positive integer (got ${every})`);
  if (every === undefined && !due) return () => true;
  return (i) => (every !== undefined && i % every === 0) || !!due?.(i);
}

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : String(v));

/** Throws a RangeError naming the first field whose value differs between the checkpoint and now. */
export function checkSame(what: string, saved: object, now: object): void {
  const a = saved as Record<string, unknown>;
  const b = now as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!Object.is(a[key], b[key]))
      throw new RangeError(
        `checkpoint mismatch: ${what}${key} is ${show(a[key])} in the checkpoint, ${show(b[key])} now`,
      );
  }
}

/** Kind and version first: a checkpoint of another trainer or format cannot be read at all. */
export function checkKind(c: { kind: unknown; version: unknown }, kind: string): void {
  if (c.kind !== kind) throw new RangeError(`checkpoint mismatch: kind is ${show(c.kind)}, expected '${kind}'`);
  if (c.version !== CHECKPOINT_VERSION)
    throw new RangeError(`checkpoint mismatch: version is ${show(c.version)}, expected ${CHECKPOINT_VERSION}`);
}

/** Refuses a checkpoint of another run's shape or params (the optimiser then checks its own state). */
export function checkTrainCheckpoint(c: TrainCheckpoint, set: Triplets, p: TrainParams): void {
  checkKind(c, 'train');
  checkSame('', { d: c.d, m: c.m }, { d: set.d, m: set.m });
  checkSame('params.', c.params, p);
}

/** Wraps the optimiser's state into a train checkpoint. */
export function trainCheckpoint(
  s: DescentState,
  set: Triplets,
  p: TrainParams,
  lastActive: number,
  initialWeightNorm: number,
  scale: number,
): TrainCheckpoint {
  return {
    kind: 'train',
    version: CHECKPOINT_VERSION,
    params: { ...p },
    d: set.d,
    m: set.m,
    lastActive,
    initialWeightNorm,
    scale,
    ...s,
  };
}
