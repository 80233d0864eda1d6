// TaskGate: a cap on heavy work running at once, a bounded queue, and leaving it on abort.
import t from 'tap';
import { BusyError, TaskGate } from '../../src/services/task-gate.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

t.test('runs up to capacity, queues up to maxWaiting, refuses the rest', async (t) => {
  const gate = new TaskGate('work (SETTING)', 1, 1, 7);
  const first = deferred();
  const order: string[] = [];
  const a = gate.run(async () => {
    await first.promise;
    order.push('a');
  });
  const b = gate.run(async () => {
    order.push('b');
  });
  const c = gate.run(async () => order.push('c'));
  await t.rejects(c, { statusCode: 503, code: 'OVERLOADED' });
  await c.catch((e: BusyError) => {
    t.ok(e instanceof BusyError);
    t.equal(e.code, 'OVERLOADED');
    t.equal(e.retryAfterSeconds, 7);
    t.match(e.message, /SETTING/);
  });
  t.equal(gate.active, 1);
  first.resolve();
  await Promise.all([a, b]);
  t.same(order, ['a', 'b'], 'the queued one ran after the first');
  t.equal(gate.active, 0);
});

t.test('a waiting request whose signal aborts leaves the queue', async (t) => {
  const gate = new TaskGate('work', 1, 4, 1);
  const first = deferred();
  const a = gate.run(() => first.promise);
  const ac = new AbortController();
  let ran = false;
  const b = gate.run(async () => {
    ran = true;
  }, ac.signal);
  ac.abort();
  await t.rejects(b, { statusCode: 499, code: 'CLIENT_CLOSED_REQUEST' });
  first.resolve();
  await a;
  t.notOk(ran, 'the aborted one never ran');
  t.equal(gate.active, 0);
  await t.rejects(
    gate.run(async () => 1, ac.signal),
    { code: 'CLIENT_CLOSED_REQUEST' },
    'aborted before asking',
  );
});

t.test('a failing task frees its slot', async (t) => {
  const gate = new TaskGate('work', 1, 0, 1);
  await t.rejects(
    gate.run(async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  t.equal(await gate.run(async () => 2), 2);
});
