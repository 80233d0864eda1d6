// The ETA from a run's own points: steps at the rate measured so far, a step of the normalize trial
// counting as two (both ways train it).
import t from 'tap';
import type { ReportedProgress } from '../../src/domain/records.js';
import { newEtaState, withEta } from '../../src/jobs/eta.js';

const point = (iteration: number, elapsedMs: number, more: Partial<ReportedProgress> = {}): ReportedProgress => ({
  iteration,
  maxIterations: 3000,
  activeFraction: 0,
  elapsedMs,
  phase: 'training',
  ...more,
});

t.test('steps left at the measured rate; null before two points differ and outside training', async (t) => {
  const s = newEtaState();
  t.equal(withEta(s, point(0, 0, { phase: 'loading' })).etaMs, null, 'loading: nothing to estimate');
  t.equal(withEta(s, point(0, 100)).etaMs, null, 'the first training point only sets the rate’s origin');
  t.equal(withEta(s, point(0, 150)).etaMs, null, 'no step yet');
  t.equal(withEta(s, point(100, 1100)).etaMs, 29_000, '10 ms a step, 2,900 steps left');
  t.equal(withEta(s, point(200, 2100, { phase: 'validating' })).etaMs, 28_000, 'validating estimates too');
  t.equal(withEta(s, point(200, 2200, { phase: 'saving' })).etaMs, null, 'saving: nothing left');
});

t.test('inside the trial a step is two ways’ work, so the rate it measures holds after it', async (t) => {
  // 10 ms a way's step: 20 ms a step while both train, 10 ms after
  const s = newEtaState();
  const trial = { normalizeTrialSteps: 300 };
  withEta(s, point(0, 0, trial));
  // 300·2 + 2,700 = 3,300 units left at 10 ms, less the 100·2 done
  t.equal(withEta(s, point(100, 2000, trial)).etaMs, (3300 - 200) * 10, 'inside: the trial’s rest at double cost');
  t.equal(withEta(s, point(300, 6000, trial)).etaMs, 27_000, 'at its end: 2,700 single steps');
  t.equal(withEta(s, point(1300, 16_000)).etaMs, 17_000, 'after it: no longer counted as it ran');
  const plain = newEtaState();
  withEta(plain, point(0, 0));
  t.equal(withEta(plain, point(300, 6000)).etaMs, 54_000, 'without the field the same points read twice as slow');
});

t.test('a way that stops inside the trial: double cost only as far as both went', async (t) => {
  const s = newEtaState();
  withEta(s, point(0, 0, { normalizeTrialSteps: 300 }));
  withEta(s, point(100, 2000, { normalizeTrialSteps: 300 }));
  // one way stops at step 200 (its point no longer carries the field); the other goes on alone
  t.equal(withEta(s, point(200, 4000)).etaMs, 28_000, '400 units in 4 s, 2,800 single steps left');
  t.equal(s.trialSteps, 200, 'the trial counted up to the first point without the field');
  t.equal(withEta(s, point(300, 5000)).etaMs, 27_000, 'then one unit a step');
});
