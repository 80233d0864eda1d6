// The store contract for identity-level data (docs/decisions/0034-identity-level-data.md): label
// counts, erasure of one label, Idempotency-Keys recorded with their commit. Run on every backend by
// identity-contract.test.ts.
import type { Test } from 'tap';
import type { IdempotentWrite, Label, Store } from '../../src/store/types.js';
import { params, seqF32, type StoreBackend } from './contract.js';

/** d floats per sample, each sample's first value its index (so a row says which sample it is). */
function samples(n: number, d: number, first = 0): Float32Array {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i * d + j] = j === 0 ? first + i : 1000 + j;
  return out;
}

/** Triplet rows gathered from samples by index, as the dataset service builds them. */
function gather(data: Float32Array, d: number, refs: number[]): Float32Array {
  const out = new Float32Array(refs.length * d);
  refs.forEach((s, k) => out.set(data.subarray(s * d, (s + 1) * d), k * d));
  return out;
}

async function allLabels(store: Store, id: string, limit: number) {
  const out: { label: Label; sampleCount: number }[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await store.listLabels(id, { limit, cursor });
    out.push(...page.items);
    if (!page.nextCursor) return out;
    cursor = page.nextCursor;
  }
}

const once = (key: string, over: Partial<IdempotentWrite> = {}): IdempotentWrite => ({
  scope: 'POST /datasets/:id/samples ds',
  key,
  bodyHash: 'h1',
  status: 201,
  reply: { added: 2 },
  counts: { sampleCount: 'sampleCount' },
  ttlMs: 3_600_000,
  ...over,
});

export function identityContract(t: Test, backend: StoreBackend): void {
  t.test('labels: counted at each commit, listed in a stable order, paged', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 2 });
    t.equal(ds.labelCount, 0);
    await store.appendSamples(ds.id, seqF32(8), ['b', 1, '1', 'b']);
    await store.stageChunk('up_l', ds.id, 'samples', seqF32(6), 3, [-5, 'a', 'b']);
    t.equal((await store.getDataset(ds.id))!.labelCount, 3, 'staged samples do not count');
    const after = await store.commitStaged('up_l', ds.id, 'samples', 3);
    t.equal(after.labelCount, 5);
    t.equal((await store.listDatasets({ limit: 10 })).items[0].labelCount, 5);
    const expected = [
      { label: -5, sampleCount: 1 },
      { label: 1, sampleCount: 1 },
      { label: '1', sampleCount: 1 },
      { label: 'a', sampleCount: 1 },
      { label: 'b', sampleCount: 3 },
    ];
    t.same(await allLabels(store, ds.id, 100), expected, 'integers first, ascending; then strings');
    t.same(await allLabels(store, ds.id, 2), expected, 'pages of 2 give the same list');
    t.same((await store.listLabels(ds.id, { limit: 5 })).nextCursor, null);
    await t.rejects(store.listLabels(ds.id, { limit: 5, cursor: 'bm9wZQ' }), { code: 'INVALID_CURSOR' });
    await t.rejects(store.listLabels('ds_nope', { limit: 5 }), { code: 'DATASET_NOT_FOUND' });
    const triplets = await store.createDataset({ name: null, dimension: 1 });
    await store.appendTriplets(triplets.id, seqF32(3), 1);
    t.equal((await store.getDataset(triplets.id))!.labelCount, 0, 'a triplet dataset has no labels');
    t.same((await store.listLabels(triplets.id, { limit: 5 })).items, []);
  });

  t.test('labels: hostile values round trip and erase like any other', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    const hostile: Label[] = [
      '\u0000',
      'a\u0000b',
      '"',
      '\\',
      "'; DROP TABLE chunks; --",
      '😀',
      'é',
      'x'.repeat(256),
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      0,
    ];
    await store.appendSamples(ds.id, seqF32(hostile.length), hostile);
    await store.stageChunk('up_h', ds.id, 'samples', seqF32(hostile.length), hostile.length, hostile);
    await store.commitStaged('up_h', ds.id, 'samples', hostile.length);
    const listed = await allLabels(store, ds.id, 3);
    t.equal(listed.length, hostile.length);
    t.same(
      listed.map((l) => l.label).sort((a, b) => String(a).localeCompare(String(b))),
      [...hostile].sort((a, b) => String(a).localeCompare(String(b))),
    );
    t.ok(listed.every((l) => l.sampleCount === 2));
    t.same(
      listed.filter((l) => typeof l.label === 'number').map((l) => l.label),
      [-Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER],
    );
    for (const label of hostile) {
      const r = await store.eraseLabel(ds.id, label);
      t.equal(r.samplesErased, 2, `erased ${JSON.stringify(label)}`);
    }
    t.match(await store.getDataset(ds.id), { sampleCount: 0, labelCount: 0 });
  });

  t.test('eraseLabel: samples, index triplets and copies go; the rest is renumbered', async (t) => {
    const store = await backend.open(t);
    const d = 3;
    const ds = await store.createDataset({ name: null, dimension: d });
    // samples 0..5: labels a b a c | b a (two chunks); "a" is 0, 2, 5
    const first = samples(4, d, 0);
    const second = samples(2, d, 4);
    await store.appendSamples(ds.id, first, ['a', 'b', 'a', 'c']);
    await store.appendSamples(ds.id, second, ['b', 'a']);
    await store.appendSamples(ds.id, samples(1, d, 100), [7]);
    const all = (await store.readSamples(ds.id)).data;
    t.equal((await store.readSamples(ds.id)).epoch, 0);
    // index triplets: [1,3,4] keeps (renumbered to [0,1,2]), [0,1,3] goes, [4,1,3] keeps, [3,5,1] goes
    const refs = [1, 3, 4, 0, 1, 3, 4, 1, 3, 3, 5, 1];
    await store.stageIndexTriplets('up_i', ds.id, gather(all, d, refs), Int32Array.from(refs));
    await store.commitStaged('up_i', ds.id, 'triplets', 4, undefined, { samplesEpoch: 0 });
    // vector triplets: one holds a byte-equal copy of sample 2 (an "a"), one does not
    const copy = new Float32Array([...samples(1, d, 2), ...samples(1, d, 50), ...samples(1, d, 51)]);
    const other = new Float32Array([...samples(1, d, 60), ...samples(1, d, 61), ...samples(1, d, 62)]);
    await store.appendTriplets(ds.id, new Float32Array([...copy, ...other]), 2);
    t.match(await store.getDataset(ds.id), { sampleCount: 7, tripletCount: 6, labelCount: 4 });

    const r = await store.eraseLabel(ds.id, 'a');
    t.match(r, { label: 'a', samplesErased: 3, tripletsErased: 3 });
    t.match(r.dataset, { sampleCount: 4, tripletCount: 3, labelCount: 3 });
    t.same(await store.getDataset(ds.id), r.dataset);
    const left = await store.readSamples(ds.id);
    t.same(left.labels, ['b', 'c', 'b', 7]);
    t.same(Array.from(left.data), Array.from(gather(all, d, [1, 3, 4, 6])));
    t.equal(left.epoch, 1, 'the erasure moved the samples epoch on');
    const tri = await store.readTriplets(ds.id);
    t.equal(tri.count, 3);
    t.same(
      Array.from(tri.data),
      Array.from(new Float32Array([...gather(all, d, [1, 3, 4]), ...gather(all, d, [4, 1, 3]), ...other])),
      'the index triplets left and the vector triplet without a copy',
    );
    t.same(await allLabels(store, ds.id, 10), [
      { label: 7, sampleCount: 1 },
      { label: 'b', sampleCount: 2 },
      { label: 'c', sampleCount: 1 },
    ]);
    // the renumbered indices hold: erasing "c" (now sample 1) takes both index triplets left
    const c = await store.eraseLabel(ds.id, 'c');
    t.match(c, { samplesErased: 1, tripletsErased: 2 });
    t.same(Array.from((await store.readTriplets(ds.id)).data), Array.from(other));

    await t.rejects(store.eraseLabel(ds.id, 'a'), { code: 'LABEL_NOT_FOUND', kind: 'not_found' });
    await t.rejects(store.eraseLabel(ds.id, '7'), { code: 'LABEL_NOT_FOUND' }, '"7" is not 7');
    await t.rejects(store.eraseLabel('ds_nope', 'a'), { code: 'DATASET_NOT_FOUND' });
    t.equal((await store.eraseLabel(ds.id, 7)).samplesErased, 1);
    t.same((await store.readSamples(ds.id)).labels, ['b', 'b']);
  });

  t.test('readIndexedTriplets: the indices with their samples, renumbered by erasure; null with vectors', async (t) => {
    const store = await backend.open(t);
    const d = 2;
    const ds = await store.createDataset({ name: null, dimension: d });
    await t.rejects(store.readIndexedTriplets('ds_nope'), { code: 'DATASET_NOT_FOUND' });
    t.equal(await store.readIndexedTriplets(ds.id), null, 'no triplets');
    await store.appendSamples(ds.id, samples(5, d, 0), ['a', 'b', 'a', 'c', 'b']);
    const all = (await store.readSamples(ds.id)).data;
    // two committed chunks of index triplets, and a staged one that is not committed
    const chunks = [
      [0, 2, 1, 4, 1, 0],
      [2, 0, 3],
    ];
    for (const [u, refs] of chunks.entries()) {
      await store.stageIndexTriplets(`up_${u}`, ds.id, gather(all, d, refs), Int32Array.from(refs));
      await store.commitStaged(`up_${u}`, ds.id, 'triplets', refs.length / 3, undefined, { samplesEpoch: 0 });
    }
    await store.stageIndexTriplets('up_open', ds.id, gather(all, d, [1, 1, 1]), Int32Array.from([1, 1, 1]));
    const got = await store.readIndexedTriplets(ds.id);
    t.ok(got, 'every triplet was given by index');
    t.same(Array.from(got!.refs), chunks.flat());
    t.match(got, { count: 3, dimension: d, samples: { count: 5 } });
    t.same(Array.from(got!.samples.data), Array.from(all));
    t.same(
      Array.from(gather(got!.samples.data, d, Array.from(got!.refs))),
      Array.from((await store.readTriplets(ds.id)).data),
    );
    await store.discardStaged('up_open');

    // erasing "c" (sample 3) takes [2, 0, 3]; samples 4 moves to 3
    await store.eraseLabel(ds.id, 'c');
    const after = await store.readIndexedTriplets(ds.id);
    t.same(Array.from(after!.refs), [0, 2, 1, 3, 1, 0]);
    t.equal(after!.samples.count, 4);
    t.same(
      Array.from(gather(after!.samples.data, d, Array.from(after!.refs))),
      Array.from((await store.readTriplets(ds.id)).data),
      'the renumbered indices gather the rows read as vectors',
    );
    await store.appendTriplets(ds.id, gather(all, d, [0, 1, 4]), 1);
    t.equal(await store.readIndexedTriplets(ds.id), null, 'a triplet uploaded as vectors');
  });

  t.test('eraseLabel: refused while a job uses the dataset; gathered rows from before it are refused', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendSamples(ds.id, seqF32(3), ['a', 'b', 'a']);
    const job = await store.createJob({ datasetId: ds.id, params: params() });
    await t.rejects(store.eraseLabel(ds.id, 'a'), { code: 'DATASET_IN_USE', kind: 'conflict' });
    t.equal((await store.readSamples(ds.id)).count, 3, 'nothing erased');
    await store.finishJob(job.id, 'cancelled', null);

    const { epoch } = await store.readSamples(ds.id);
    await store.stageIndexTriplets('up_x', ds.id, seqF32(3), Int32Array.from([0, 2, 1]));
    await store.eraseLabel(ds.id, 'b');
    await t.rejects(store.commitStaged('up_x', ds.id, 'triplets', 1, undefined, { samplesEpoch: epoch }), {
      code: 'DATASET_CHANGED',
    });
    await store.discardStaged('up_x');
    t.match(await store.getDataset(ds.id), { sampleCount: 2, tripletCount: 0 });
    t.equal((await store.readTriplets(ds.id)).count, 0);
  });

  t.test('idempotency keys: recorded with the commit, once, across a restart, until they expire', async (t) => {
    const store = await backend.open(t);
    const ds = await store.createDataset({ name: null, dimension: 1 });
    await store.appendSamples(ds.id, seqF32(2), ['a', 'b'], undefined, { idempotency: once('k1') });
    const got = await store.getIdempotencyKey('POST /datasets/:id/samples ds', 'k1');
    t.match(got, { key: 'k1', bodyHash: 'h1', status: 201, reply: { added: 2, sampleCount: 2 } });
    t.equal(await store.getIdempotencyKey('another scope', 'k1'), undefined, 'keys are per scope');
    await t.rejects(store.appendSamples(ds.id, seqF32(2), ['a', 'b'], undefined, { idempotency: once('k1') }), {
      code: 'IDEMPOTENCY_KEY_IN_FLIGHT',
    });
    t.equal((await store.getDataset(ds.id))!.sampleCount, 2, 'the second commit appended nothing');

    await store.appendTriplets(ds.id, seqF32(3), 1, undefined, {
      idempotency: once('k2', { reply: { added: 1 }, counts: { tripletCount: 'tripletCount' } }),
    });
    await store.stageChunk('up_k', ds.id, 'samples', seqF32(1), 1, ['c']);
    await store.commitStaged('up_k', ds.id, 'samples', 1, undefined, {
      idempotency: once('k3', { reply: { added: 1 }, counts: { sampleCount: 'sampleCount', labels: 'labelCount' } }),
    });
    await store.stageChunk('up_k2', ds.id, 'samples', seqF32(1), 1, ['d']);
    await t.rejects(
      store.commitStaged('up_k2', ds.id, 'samples', 1, undefined, { idempotency: once('k3') }),
      { code: 'IDEMPOTENCY_KEY_IN_FLIGHT' },
      'a staged commit with a taken key rolls back',
    );
    await store.discardStaged('up_k2');
    t.match(await store.getDataset(ds.id), { sampleCount: 3, tripletCount: 1, labelCount: 3 });

    await store.close();
    const again = await backend.reopen(t, store);
    t.match(await again.getIdempotencyKey('POST /datasets/:id/samples ds', 'k2'), {
      reply: { added: 1, tripletCount: 1 },
    });
    t.match(await again.getIdempotencyKey('POST /datasets/:id/samples ds', 'k3'), {
      reply: { added: 1, sampleCount: 3, labels: 3 },
    });
    await again.appendTriplets(ds.id, seqF32(1), 1, undefined, { idempotency: once('gone', { ttlMs: 0 }) });
    t.equal(await again.getIdempotencyKey('POST /datasets/:id/samples ds', 'gone'), undefined, 'expired: not found');
    t.equal(await again.purgeIdempotencyKeys(), 1, 'the expired key is purged, the live ones stay');
    await again.appendTriplets(ds.id, seqF32(1), 1, undefined, { idempotency: once('gone', { ttlMs: 0 }) });
    await again.appendTriplets(ds.id, seqF32(1), 1, undefined, { idempotency: once('gone') });
    t.ok(await again.getIdempotencyKey('POST /datasets/:id/samples ds', 'gone'), 'an expired key can be used again');
  });
}
