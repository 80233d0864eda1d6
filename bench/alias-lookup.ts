// What resolving an alias from the store on every request would cost, against the cache: the time of
// one Store.getAlias on SQLite (its own thread, as the app runs it) and on PostgreSQL (a round trip),
// beside a small /embed through app.inject. Figures only (docs/decisions/0030-model-aliases.md).
//   npx tsx bench/alias-lookup.ts [postgres://…]
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { openThreadedSqliteStore } from '../src/store/sqlite-thread.js';
import { openPostgresStore } from '../src/store/postgres.js';
import type { Store } from '../src/store/types.js';
import { buildApp } from '../src/app.js';
import { makeConfig } from '../src/config.js';

const N = 2000;

async function timeIt(what: string, f: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 200; i++) await f();
  const t: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    await f();
    t.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  t.sort((a, b) => a - b);
  const q = (p: number) => t[Math.floor(p * (t.length - 1))].toFixed(1);
  console.log(`${what}: p50 ${q(0.5)} µs, p90 ${q(0.9)} µs, p99 ${q(0.99)} µs (${N} calls)`);
}

async function aliasOn(what: string, store: Store): Promise<void> {
  const m = await store.createModel({
    jobId: null,
    name: null,
    inputDimension: 2,
    outputDimension: 1,
    normalize: false,
    trainingParams: null,
    metrics: {},
    weights: Float64Array.from([1, 2]),
  });
  await store.setAlias('bench', m.id);
  await timeIt(`${what} getAlias`, () => store.getAlias('bench'));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alias-bench-'));
try {
  const sqlite = await openThreadedSqliteStore(path.join(dir, 'a.sqlite'));
  await aliasOn('SQLite (own thread)', sqlite);
  await sqlite.close();
  const url = process.argv[2];
  if (url) {
    const pg = await openPostgresStore(url);
    await aliasOn('PostgreSQL', pg);
    await pg.close();
  }
  const app = await buildApp(
    makeConfig({
      dataDir: path.join(dir, 'app'),
      logLevel: 'silent',
      overload: { maxEventLoopDelayMs: 0, maxEventLoopUtilization: 0 },
    }),
    { logger: false },
  );
  await app.ready();
  const W = Array.from({ length: 16 }, (_, i) => Array.from({ length: 64 }, (_, j) => ((i + j) % 5) - 2));
  await app.inject({ method: 'POST', url: '/models', payload: { W } });
  const inputs = [Array.from({ length: 64 }, (_, j) => j / 64)];
  await timeIt('/embed, 1 row 64→16, alias default (cached)', () =>
    app.inject({ method: 'POST', url: '/embed', payload: { inputs } }),
  );
  await app.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
