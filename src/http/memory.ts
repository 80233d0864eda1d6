// Memory held by request bodies (Buffers outside V8's heap) goes back to the system only when V8
// next collects garbage, and an idle service may not do so for a long time: after an attack of
// slow bodies the process would keep their memory. Once a burst of staged bodies has drained, one
// full collection gives it back — at most one every MIN_INTERVAL_MS, never on a request's path.
import v8 from 'node:v8';
import vm from 'node:vm';

const MIN_INTERVAL_MS = 10_000;

let gc: (() => void) | null | undefined;
let last = 0;
let pending: NodeJS.Timeout | undefined;

/** V8's collector, exposed at run time (null where that fails). */
function collector(): (() => void) | null {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Schedules one full garbage collection (coalesced, rate-limited). */
export function releaseMemorySoon(): void {
  if (pending) return;
  const wait = Math.max(0, last + MIN_INTERVAL_MS - Date.now());
  pending = setTimeout(() => {
    pending = undefined;
    last = Date.now();
    collector()?.();
  }, wait);
  pending.unref();
}
