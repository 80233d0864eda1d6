// What crosses from the SQLite thread by transfer rather than by copy (src/store/sqlite-thread-protocol.ts).
import t from 'tap';
import { answerTransfers } from '../../src/store/sqlite-thread-protocol.js';
import { openThreadedSqliteStore } from '../../src/store/sqlite-thread.js';
import path from 'node:path';
import { tempDir } from '../helpers.js';

t.test('answerTransfers: whole typed arrays two objects deep; never a Buffer or a view of a larger buffer', (t) => {
  const refs = new Int32Array(6);
  const data = new Float32Array(8);
  const got = answerTransfers({ count: 2, refs, samples: { count: 4, data } });
  t.same(got, [refs.buffer, data.buffer], 'StoredIndexedTriplets: the indices and the samples');
  t.same(answerTransfers(new Float64Array(3)).length, 1, 'a vector on its own');
  t.same(answerTransfers({ a: { b: { c: new Float32Array(2) } } }), [], 'not three deep');
  t.same(answerTransfers({ blob: Buffer.alloc(16), view: new Float32Array(new ArrayBuffer(64), 0, 4) }), []);
  t.same(answerTransfers([new Float32Array(2)]), [], 'not inside arrays (rows of a page)');
  t.end();
});

t.test('a threaded read of index triplets arrives whole', async (t) => {
  const store = await openThreadedSqliteStore(path.join(tempDir(t), 'store.sqlite'));
  t.teardown(() => store.close());
  const ds = await store.createDataset({ name: null, dimension: 2 });
  await store.appendSamples(ds.id, Float32Array.from([1, 2, 3, 4, 5, 6]), ['a', 'b', 'a']);
  await store.stageIndexTriplets('up_1', ds.id, Float32Array.from([1, 2, 5, 6, 3, 4]), Int32Array.from([0, 2, 1]));
  await store.commitStaged('up_1', ds.id, 'triplets', 1, undefined, { samplesEpoch: 0 });
  const got = await store.readIndexedTriplets(ds.id);
  t.same(Array.from(got!.refs), [0, 2, 1]);
  t.same(Array.from(got!.samples.data), [1, 2, 3, 4, 5, 6]);
  t.equal(got!.samples.data.byteLength, got!.samples.data.buffer.byteLength, 'its own buffer, not a copy of a slab');
});
