// The thread that owns gallery HNSW indexes: builds (and measures recall@10 against exact search),
// searches and disposes them, one call at a time in the order sent. A native index cannot move
// between threads (docs/decisions/0032-hnsw-index.md), so it is built where it serves. Computes
// only: no database, no environment. docs/decisions/0036-hnsw-galleries.md.
import { parentPort } from 'node:worker_threads';
import { createGallery } from '../math/search/index.js';
import { buildHnswIndex, measureRecall, type HnswIndex } from './hnsw-index.js';
import type { HnswAnswer, HnswCall, HnswFound } from './hnsw-protocol.js';

const port = parentPort!;
const indexes = new Map<string, HnswIndex>();

function run(call: HnswCall): { value: unknown; transfer: ArrayBuffer[] } {
  switch (call.op) {
    case 'build': {
      const started = performance.now();
      // squared L2: the same graph serves euclidean (its square root) and squared searches
      const index = buildHnswIndex(call.rows, call.n, call.k, { ...call.params, metric: 'squared' });
      const buildMs = performance.now() - started;
      const exact = createGallery(call.rows, call.n, call.k);
      const recall = measureRecall(index, exact, { sample: call.recallSample, k: 10, seed: 0 });
      exact.dispose();
      indexes.set(call.key, index);
      return {
        value: { buildMs, recallAt10: recall.recall, recallQueries: recall.queries, capacity: index.capacity },
        transfer: [],
      };
    }
    case 'search': {
      const index = indexes.get(call.key);
      if (!index) throw new Error(`no index ${call.key}`);
      const hits = index.search(call.queries, call.q, { k: call.top, maxDistance: call.maxDistance });
      const value: HnswFound = { indexes: hits.map((h) => h.indexes), distances: hits.map((h) => h.distances) };
      return {
        value,
        transfer: hits.flatMap((h) => [h.indexes.buffer as ArrayBuffer, h.distances.buffer as ArrayBuffer]),
      };
    }
    case 'dispose':
      // the native memory goes with the last reference (hnswlib-node frees it in its finalizer)
      indexes.delete(call.key);
      return { value: null, transfer: [] };
  }
}

port.on('message', (call: HnswCall) => {
  try {
    const { value, transfer } = run(call);
    port.postMessage({ id: call.id, value } as HnswAnswer, transfer);
  } catch (err) {
    port.postMessage({ id: call.id, error: err instanceof Error ? err.message : String(err) } as HnswAnswer);
  }
});
