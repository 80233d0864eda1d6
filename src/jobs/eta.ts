// A job's estimated time left, from the rate its own progress points show.
import type { JobProgress, ReportedProgress } from '../domain/records.js';

/** What the estimate remembers of a run's earlier points. */
export interface EtaState {
  /** the first training point of this run, from which the rate is measured */
  rateFrom: { iteration: number; elapsedMs: number } | null;
  /** the normalize trial's steps, as far as both ways ran them */
  trialSteps: number;
}

export const newEtaState = (): EtaState => ({ rateFrom: null, trialSteps: 0 });

/**
 * The progress with `etaMs`: the work left at the rate measured since the first training point of
 * this run (a resumed run measures its own). A step counts once, or twice inside the normalize trial
 * (both ways train it), so the rate the trial measures holds after it. Always present: null until
 * two points differ, and outside training and validation (nothing left to estimate).
 */
export function withEta(s: EtaState, reported: ReportedProgress): JobProgress {
  const p: JobProgress = { ...reported, etaMs: null };
  if (p.phase !== 'training' && p.phase !== 'validating') return p;
  if (p.normalizeTrialSteps !== undefined) s.trialSteps = p.normalizeTrialSteps;
  else if (s.trialSteps > p.iteration) s.trialSteps = p.iteration; // one way went on alone from here
  if (!s.rateFrom) {
    s.rateFrom = { iteration: p.iteration, elapsedMs: p.elapsedMs };
    return p;
  }
  const work = (step: number) => step + Math.min(step, s.trialSteps);
  const done = work(p.iteration) - work(s.rateFrom.iteration);
  const ms = p.elapsedMs - s.rateFrom.elapsedMs;
  if (!(done > 0 && ms > 0)) return p;
  const left = Math.max(0, work(p.maxIterations) - work(p.iteration));
  return { ...p, etaMs: Math.round((left * ms) / done) };
}
