// The training history's part of the store contract: updateJobProgress stores a point per write
// under the owner's fencing, points list in seq order after a cursor, a job keeps at most
// JOB_EVENTS_KEPT (thinned, newest kept), and the points outlive a restart.
import type { Test } from 'tap';
import { JOB_EVENTS_KEPT } from '../../src/store/rows.js';
import { LEASE, params, type StoreBackend } from './contract.js';

const OTHER = { owner: 'host-h:404:hhhh', ms: 600_000 };
const point = (iteration: number) => ({
  iteration,
  maxIterations: 5000,
  activeFraction: 0.5,
  elapsedMs: iteration * 10,
  phase: 'training' as const,
  etaMs: (5000 - iteration) * 10,
});

export function jobEventsContract(t: Test, backend: StoreBackend): void {
  t.test('job events: one point per progress write, listed after a cursor, kept over a restart', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const job = await store.createJob({ datasetId: ds.id, params: params() });
    const other = await store.createJob({ datasetId: ds.id, params: params() });
    t.same(await store.listJobEvents(job.id, 0, 10), { items: [], nextCursor: null }, 'none before it runs');
    t.equal(await store.newestJobEventSeq(job.id), 0);
    await store.updateJobProgress(job.id, point(1), LEASE.owner);
    t.same((await store.listJobEvents(job.id, 0, 10)).items, [], 'a queued job stores no point');

    await store.claimNextJob(LEASE, job.id);
    for (let i = 1; i <= 5; i++) await store.updateJobProgress(job.id, point(i), LEASE.owner);
    await store.updateJobProgress(job.id, point(99), OTHER.owner);
    const all = await store.listJobEvents(job.id, 0, 10);
    t.same(
      all.items.map((e) => [e.seq, e.progress.iteration]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ],
      'the owner’s points in order; another owner’s write is refused',
    );
    t.same(all.items[4].progress, point(5), 'the progress round trips');
    t.type(all.items[0].createdAt, 'string');
    t.ok(!Number.isNaN(Date.parse(all.items[0].createdAt)));
    t.equal(all.nextCursor, null);
    t.equal(await store.newestJobEventSeq(job.id), 5);
    t.same((await store.listJobEvents(other.id, 0, 10)).items, [], 'points belong to their job');

    const first = await store.listJobEvents(job.id, 0, 2);
    t.same(
      first.items.map((e) => e.seq),
      [1, 2],
    );
    t.equal(first.nextCursor, '2', 'the cursor is the last seq');
    const next = await store.listJobEvents(job.id, Number(first.nextCursor), 2);
    t.same(
      next.items.map((e) => e.seq),
      [3, 4],
    );
    const last = await store.listJobEvents(job.id, 4, 2);
    t.same(
      last.items.map((e) => e.seq),
      [5],
    );
    t.equal(last.nextCursor, null);
    // a cursor past any seq a store can hold (a client's Last-Event-ID or `after`) is an empty page
    for (const after of [2 ** 31 - 1, 2 ** 31, 2 ** 53, 1e20])
      t.same(await store.listJobEvents(job.id, after, 2), { items: [], nextCursor: null }, `after ${after}`);

    // a point written without etaMs (as an older version stored them) reads back with etaMs null
    const { etaMs: _eta, ...older } = point(6);
    await store.updateJobProgress(other.id, older, LEASE.owner);
    await store.claimNextJob(LEASE, other.id);
    await store.updateJobProgress(other.id, older, LEASE.owner);
    t.same((await store.getJob(other.id))!.progress, { ...older, etaMs: null }, 'etaMs always present');
    t.same((await store.listJobEvents(other.id, 0, 10)).items[0].progress, { ...older, etaMs: null });

    await store.finishJob(job.id, 'cancelled', null);
    await store.updateJobProgress(job.id, point(6), LEASE.owner);
    t.equal(await store.newestJobEventSeq(job.id), 5, 'an ended job stores no more');

    const again = await backend.reopen(t, store);
    t.same(await again.listJobEvents(job.id, 0, 10), all, 'the same points after a restart');
  });

  t.test('job events: at most JOB_EVENTS_KEPT per job, thinned with the newest kept', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    const job = await store.createJob({ datasetId: ds.id, params: params() });
    await store.claimNextJob(LEASE, job.id);
    const writes = JOB_EVENTS_KEPT + 10;
    for (let i = 1; i <= writes; i++) await store.updateJobProgress(job.id, point(i), LEASE.owner);
    const seqs: number[] = [];
    const iterations: number[] = [];
    let after = 0;
    for (;;) {
      const page = await store.listJobEvents(job.id, after, 1000);
      for (const e of page.items) {
        seqs.push(e.seq);
        iterations.push(e.progress.iteration);
      }
      if (!page.nextCursor) break;
      after = Number(page.nextCursor);
    }
    t.ok(seqs.length <= JOB_EVENTS_KEPT, `bounded (${seqs.length} kept of ${writes})`);
    t.ok(seqs.length >= JOB_EVENTS_KEPT / 2, 'thinned by half at most');
    t.equal(seqs[0], 1, 'the first point stays');
    t.equal(seqs[seqs.length - 1], writes, 'the newest point stays, with the seq of its write');
    t.equal(iterations[iterations.length - 1], writes);
    t.ok(
      seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
      'seqs increase',
    );
    t.equal(await store.newestJobEventSeq(job.id), writes);
    await store.updateJobProgress(job.id, point(writes + 1), LEASE.owner);
    t.equal(await store.newestJobEventSeq(job.id), writes + 1, 'a seq is never handed out twice');
  });
}
