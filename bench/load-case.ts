// One /serve benchmark case, in a process of its own (bench/index.ts --serve spawns one per case):
// a client process that already drove another load carries its heap and GC state into the next
// measurement (its binary throughput after a JSON run was less than half of a fresh client's).
//
//   tsx bench/load-case.ts '<json spec>'   →   one JSON line: { reqPerSec, p99Ms, errors, non2xx, requests }
// spec: { url, method?, headers?, bodyFile?, bodyText?, discardBodies?, connections, duration, warmup }
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

interface CaseSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  bodyFile?: string;
  bodyText?: string;
  discardBodies?: boolean;
  connections: number;
  duration: number;
  warmup: number;
}

/** autocannon setupClient: response bytes are still counted (on 'data'), bodies are not accumulated. */
function discardBodies(client: { pipelinedRequests: { addBody(data: unknown): void } }): void {
  client.pipelinedRequests.addBody = () => {};
}

const spec = JSON.parse(process.argv[2]) as CaseSpec;
const body = spec.bodyFile ? readFileSync(spec.bodyFile) : spec.bodyText;
const opts = {
  url: spec.url,
  method: spec.method ?? 'GET',
  headers: spec.headers ?? {},
  ...(body === undefined ? {} : { body }),
  ...(spec.discardBodies ? { setupClient: discardBodies } : {}),
  connections: spec.connections,
};
const run = (duration: number) =>
  new Promise<any>((resolve, reject) => {
    autocannon({ ...opts, duration } as never, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
  });
// a short unreported run first: the server's first big batch starts its embedding helper thread,
// and every route's code is still being optimised in its first seconds
const warm = spec.warmup > 0 ? await run(spec.warmup) : undefined;
const r = await run(spec.duration);
// every request sent, warm-up included: what the server's CPU time over the case is divided by
const requests = (warm?.requests.total ?? 0) + r.requests.total;
console.log(
  JSON.stringify({ reqPerSec: r.requests.average, p99Ms: r.latency.p99, errors: r.errors, non2xx: r.non2xx, requests }),
);
