// Development and test entry for the HNSW thread: Node 20 does not hand the parent's TypeScript
// loader to worker threads, so register tsx here and load the .ts entry. Built code uses hnsw-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./hnsw-worker.ts');
