// Development and test entry for the worker: Node 20 does not hand the parent's TypeScript
// loader to worker threads, so register tsx here and load the .ts worker. Built code uses worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
