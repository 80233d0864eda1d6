// The HNSW thread's build queue, on a real worker thread: one build at a time, a newer build of a
// group replaces the one waiting, disposing a waiting build cancels it, and close rejects the rest.
import t from 'tap';
import { BuildCancelled, HnswThread } from '../../src/search/hnsw-thread.js';

const K = 16;

/** What the promise rejected with (it must reject). */
const reason = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => new Error('resolved'),
    (e: unknown) => e,
  );

function rows(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n * K }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

t.test('a newer build of a group replaces the waiting one; dispose cancels a waiting build', async (t) => {
  const thread = new HnswThread();
  t.teardown(() => thread.close());
  const X = rows(3000, 1);
  const first = thread.build('g@1', 'g', X, 3000, K, {});
  t.equal(thread.waitingBuilds, 0, 'the first build is sent at once');
  t.ok(thread.busy);
  const second = thread.build('g@2', 'g', X, 3000, K, {});
  const other = thread.build('h@1', 'h', X, 100, K, {});
  const third = thread.build('g@3', 'g', X, 3000, K, {});
  t.equal(thread.waitingBuilds, 2, 'one waiting build a group');
  t.ok((await reason(second)) instanceof BuildCancelled, 'g@2 was replaced by g@3 before it began');
  const doomed = thread.build('h@2', 'h', X, 100, K, {});
  t.ok((await reason(other)) instanceof BuildCancelled, 'h@1 was replaced by h@2');
  thread.dispose('h@2');
  t.ok((await reason(doomed)) instanceof BuildCancelled, 'disposing a waiting build cancels it');
  t.equal(thread.waitingBuilds, 1, 'g@3 waits');
  t.ok((await first).recallAt10 >= 0);
  t.ok((await third).recallAt10 >= 0);
  t.equal(thread.buildsSent, 2, 'g@1 and g@3: the replaced and cancelled builds were never copied or sent');
  t.notOk(thread.busy);
  await t.rejects(thread.search('g@2', new Float32Array(K), 1, 1), /no index/, 'g@2 was never built');
  t.equal((await thread.search('g@3', X.subarray(0, K), 1, 1)).indexes[0].length, 1);
});

t.test('close rejects the builds still waiting', async (t) => {
  const thread = new HnswThread();
  const X = rows(2000, 2);
  const running = reason(thread.build('a@1', 'a', X, 2000, K, {}));
  const waiting = reason(thread.build('b@1', 'b', X, 2000, K, {}));
  await thread.close();
  t.match(await running, /closed|exited/, 'the build in flight ends with the thread');
  t.match(await waiting, /closed/);
  t.notOk(thread.busy || thread.waitingBuilds > 0);
});

t.test('a build whose rows cannot be copied fails alone; the next one runs', async (t) => {
  const thread = new HnswThread();
  t.teardown(() => thread.close());
  const X = rows(500, 3);
  // a row source whose copy fails, as an allocation refused for memory would
  const broken = Object.assign(new Float32Array(500 * K), {
    slice: () => {
      throw new RangeError('Array buffer allocation failed');
    },
  });
  const first = reason(thread.build('a@1', 'a', broken, 500, K, {}));
  const second = thread.build('b@1', 'b', X, 500, K, {});
  t.match(await first, /allocation failed/, 'the build that could not be copied is rejected');
  t.ok((await second).recallAt10 >= 0, 'the next build runs');
  t.notOk(thread.busy, 'nothing is left in flight');
  t.equal(thread.buildsSent, 1);
});
