// The heavy-work attacks at a small scale, against a running server: big indexTriplets,
// evaluations of a large dataset, evaluations whose clients hang up. Shared by the abuse suite
// (test/abuse/heavy.test.ts) and the event-loop benchmark (bench/loop-under-abuse.ts).
import fs from 'node:fs';
import net from 'node:net';

/** A set-up request: retried while the server sheds load (503), which it may just after start. */
async function setup(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, init);
    const body = (await res.json()) as Record<string, unknown>;
    if (res.ok) return body;
    if (res.status !== 503 || attempt >= 30) throw new Error(`${res.status} ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}

export async function createDataset(base: string, dimension: number): Promise<string> {
  const r = await setup(`${base}/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dimension }),
  });
  return r.id as string;
}

/** n labelled samples of dimension d (labels 0..classes-1), uploaded as one binary body. */
export async function uploadSamples(base: string, id: string, n: number, d: number, classes = 50): Promise<void> {
  const buf = Buffer.alloc(n * 4 * (d + 1));
  let s = 12345;
  for (let i = 0; i < n; i++) {
    const off = i * 4 * (d + 1);
    buf.writeInt32LE(i % classes, off);
    for (let j = 0; j < d; j++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      buf.writeFloatLE(s / 2 ** 32 - 0.5 + (i % classes) * 0.01, off + 4 + 4 * j);
    }
  }
  await setup(`${base}/datasets/${id}/samples`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: buf,
  });
}

/** Imports a k×d model with small deterministic weights; returns its id. */
export async function importModel(base: string, k: number, d: number): Promise<string> {
  const W = Array.from({ length: k }, (_, i) => Array.from({ length: d }, (_, j) => Math.sin(i * 31 + j * 7) / d));
  const r = await setup(`${base}/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ W }),
  });
  return r.id as string;
}

/** The JSON body of m index triplets over the first `n` samples (built once: it is large). */
export function indexTripletsBody(m: number, n: number): string {
  const indexTriplets = Array.from({ length: m }, (_, i) => [i % n, (i * 7 + 1) % n, (i * 13 + 2) % n]);
  return JSON.stringify({ indexTriplets });
}

export function postIndexTriplets(base: string, id: string, body: string): Promise<Response> {
  return fetch(`${base}/datasets/${id}/triplets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
}

export function postEvaluate(base: string, modelId: string, datasetId: string): Promise<Response> {
  return fetch(`${base}/models/${modelId}/evaluate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId }),
  });
}

/**
 * Sends `count` evaluation requests on raw sockets and returns a function that hangs them all up
 * (the clients that gave up, whose evaluations must stop).
 */
export function evaluationsToAbandon(port: number, modelId: string, datasetId: string, count: number): () => void {
  const body = JSON.stringify({ datasetId });
  const sockets = Array.from({ length: count }, () => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    s.write(
      `POST /models/${modelId}/evaluate HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    return s;
  });
  return () => sockets.forEach((s) => s.destroy());
}

/** The process's thread count (/proc/<pid>/status Threads:), or 0 when unreadable. */
export function threadCount(pid: number): number {
  try {
    const m = /Threads:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Polls until `ok()` or the deadline; true when it held. */
export async function waitFor(ok: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/** Samples /healthz latency every `everyMs` until stopped; stop() returns the latencies (ms). */
export function sampleHealth(base: string, everyMs = 20): { stop: () => Promise<number[]> } {
  const out: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      try {
        const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        out.push(r.ok ? performance.now() - start : Infinity);
      } catch {
        out.push(Infinity);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return out;
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
