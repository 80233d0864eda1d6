import t from 'tap';
import { backoffDelay } from '../../src/domain/backoff.js';

t.test('delays double from the first up to the cap, jittered by ±25%', async (t) => {
  const middle = () => 0.5;
  t.same(
    [0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 100, 2000, middle)),
    [100, 200, 400, 800, 1600, 2000, 2000],
  );
  t.equal(
    backoffDelay(2, 100, 2000, () => 0),
    300,
    'the low end: 0.75 of 400',
  );
  t.equal(
    backoffDelay(2, 100, 2000, () => 1),
    500,
    'the high end: 1.25 of 400',
  );
  t.equal(backoffDelay(60, 100, 2000, middle), 2000, 'no overflow far past the cap');
});
