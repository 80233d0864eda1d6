// What SQLite's secure_delete (on since docs/decisions/0034-identity-level-data.md) costs uploads:
// JSON-style appends (one insert) and streamed ones (staged, then rewritten by the commit, which
// frees the staged pages: those are what secure_delete overwrites), on and off, same data.
//   npx tsx bench/secure-delete.ts [MiB per run, default 256] [rounds, default 3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteDatabase } from '../src/store/sqlite.js';

const mib = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const d = 128;
const perChunk = (4 * 1024 * 1024) / (4 * d); // 4 MiB chunks, as streamed uploads stage them
const chunks = Math.round(mib / 4);
const data = Float32Array.from({ length: perChunk * d }, (_, i) => Math.sin(i));
const labels = Array.from({ length: perChunk }, (_, i) => `id-${i % 500}`);

function run(secure: boolean, streamed: boolean): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-bench-'));
  const db = new SqliteDatabase(path.join(dir, 'b.sqlite'));
  (db as unknown as { db: { pragma(s: string): unknown } }).db.pragma(`secure_delete = ${secure ? 'ON' : 'OFF'}`);
  const ds = db.createDataset({ name: null, dimension: d });
  const t0 = process.hrtime.bigint();
  if (streamed) {
    for (let c = 0; c < chunks; c++) db.stageChunk('up', ds.id, 'samples', data, perChunk, labels);
    db.commitStaged('up', ds.id, 'samples', chunks * perChunk);
  } else {
    for (let c = 0; c < chunks; c++) db.appendSamples(ds.id, data, labels);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return ms;
}

for (const streamed of [false, true]) {
  for (const secure of [false, true]) {
    const times = Array.from({ length: rounds }, () => run(secure, streamed)).sort((a, b) => a - b);
    const med = times[Math.floor(rounds / 2)];
    console.log(
      `${streamed ? 'streamed' : 'appended'} ${mib} MiB, secure_delete ${secure ? 'ON ' : 'OFF'}: ` +
        `median ${med.toFixed(0)} ms (${((mib / med) * 1000).toFixed(0)} MiB/s), runs ${times.map((x) => x.toFixed(0)).join(' ')}`,
    );
  }
}
