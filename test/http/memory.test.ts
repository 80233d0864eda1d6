// The memory releaser: one full collection per burst, put off while requests are in flight.
import t from 'tap';
import { MemoryReleaser } from '../../src/http/memory.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await tick(20);
}

t.test('a collection waits until no request is in flight, and runs once', async (t) => {
  let busy = true;
  let ran = 0;
  const r = new MemoryReleaser(
    () => !busy,
    () => ran++,
  );
  t.teardown(() => r.close());
  r.releaseSoon();
  r.releaseSoon(); // coalesced with the first
  await tick(1200); // past two re-checks while busy
  t.equal(ran, 0, 'nothing while requests are in flight');
  busy = false;
  await until(() => ran > 0);
  t.equal(ran, 1, 'one collection once idle');
  t.equal(r.collections, 1);
});

t.test('close() cancels a scheduled collection', async (t) => {
  let ran = 0;
  const r = new MemoryReleaser(
    () => false,
    () => ran++,
  );
  r.releaseSoon();
  r.close();
  await tick(700);
  t.equal(ran, 0);
});
