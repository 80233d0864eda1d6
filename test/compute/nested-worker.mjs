// Helper for pool.test.ts (not a test file): a worker thread that creates a 2-thread compute pool
// (nested workers), trains a little, and reports W. Node 20 does not pass tsx to workers.
import { register } from 'tsx/esm/api';
import { parentPort, workerData } from 'node:worker_threads';

register();
const { createCompute } = await import('../../src/compute/index.ts');
const { train } = await import('../../src/math/train.ts');
const { set, params, threads } = workerData;
const c = await createCompute({ kernels: 'wasm', threads });
const r = train(set, params, {}, c.kernels);
await c.close();
parentPort.postMessage({ W: r.W, name: c.kernels.name });
