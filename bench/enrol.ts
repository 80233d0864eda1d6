// Gallery enrolment through the HTTP API: items per second of binary uploads (the documented
// record layout, src/http/gallery-items.ts) into one gallery, against a real server started from
// the built tree on a temporary DATA_DIR (SQLite), with a d → k model imported first.
//   npm run bench -- --enrol [--items 100000] [--batch 10000] [--dim 512] [--out 128]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from '../scripts/server-process.js';
import { encodeBinaryItems } from '../src/http/gallery-items.js';
import { createRng } from '../src/math/rng.js';

async function post(base: string, path: string, body: unknown): Promise<any> {
  const r = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

export async function enrolCli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { items: { type: 'string' }, batch: { type: 'string' }, dim: { type: 'string' }, out: { type: 'string' } },
  });
  const total = Number(values.items ?? 100_000);
  const batch = Number(values.batch ?? 10_000);
  const d = Number(values.dim ?? 512);
  const k = Number(values.out ?? 128);
  const dataDir = mkdtempSync(join(tmpdir(), 'enrol-bench-'));
  const server = await startServer({ dataDir, command: 'built', logLevel: 'warn' });
  try {
    const rng = createRng(1);
    const W = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.normal() / Math.sqrt(d)));
    const model = (await post(server.base, '/models', { W })).id as string;
    const gallery = (await post(server.base, '/galleries', { name: 'bench', model })).id as string;
    const bodies: Buffer[] = [];
    for (let from = 0; from < total; from += batch) {
      const items = Array.from({ length: Math.min(batch, total - from) }, (_, i) => ({
        id: `face-${from + i}`,
        label: (from + i) % 1000,
        input: Float32Array.from({ length: d }, () => rng.normal()),
      }));
      bodies.push(encodeBinaryItems(items));
    }
    const started = performance.now();
    for (const body of bodies) {
      const r = await fetch(`${server.base}/galleries/${gallery}/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
      if (r.status !== 201 && r.status !== 200) throw new Error(`upload: ${r.status} ${await r.text()}`);
    }
    const seconds = (performance.now() - started) / 1000;
    const mb = bodies.reduce((s, b) => s + b.byteLength, 0) / 2 ** 20;
    console.log(
      `enrolment, binary, ${total} items of ${d} floats (${mb.toFixed(0)} MiB) in batches of ${batch}, ${d}→${k} model: ` +
        `${seconds.toFixed(2)} s, ${Math.round(total / seconds)} items/s`,
    );
  } finally {
    server.proc.kill('SIGTERM');
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}
