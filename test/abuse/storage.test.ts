// Storage faults under a running server: the database files deleted, the disk full, a read-only
// or unusable DATA_DIR at start, a large write in flight. Readiness must tell, writes must be
// refused with a code (never acknowledged and then lost), and /healthz must keep answering.
import Database from 'better-sqlite3';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ROOT } from '../../scripts/server-process.js';
import { expectRecovered, expectRefusal, healthLatencyMs, startAbuseServer, type AbuseServer } from './harness.js';

const DB_FILE = 'triplet-embed.sqlite';
// Load shedding off: a busy CI machine must not turn the answers under test into 503 OVERLOADED.
const ENV = { MAX_EVENT_LOOP_DELAY_MS: '0' };
const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** n triplets of dimension d, as the JSON upload takes them */
function triplets(n: number, d: number, seed = 1): { anchor: number[]; positive: number[]; negative: number[] }[] {
  const v = (i: number, k: number) => Array.from({ length: d }, (_, j) => ((i * 31 + j * 7 + k + seed) % 97) / 97);
  return Array.from({ length: n }, (_, i) => ({ anchor: v(i, 0), positive: v(i, 1), negative: v(i, 2) }));
}

async function createDataset(base: string, name: string, dimension: number): Promise<string> {
  const r = await fetch(`${base}/datasets`, json({ name, dimension }));
  if (r.status !== 201) throw new Error(`create dataset: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

const upload = (base: string, id: string, n: number, d: number, seed = 1) =>
  fetch(`${base}/datasets/${id}/triplets`, json({ triplets: triplets(n, d, seed) }));

async function stop(s: AbuseServer): Promise<void> {
  process.kill(s.pid, 'SIGKILL');
  await s.exited;
}

/** Mounts a tmpfs (root only); undefined where mounting is not allowed. */
function mountTmpfs(t: Test, options: string): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'te-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  if (r.status !== 0) {
    fs.rmdirSync(dir);
    return undefined;
  }
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Runs the built server on dataDir until it exits (it should, at once); its code and output. */
function startExpectingExit(dataDir: string): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist/src/server.js')], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', API_KEYS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (b) => (output += b));
  proc.stderr.on('data', (b) => (output += b));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

function expectOneLineExit(t: Test, r: { code: number | null; output: string }, why: RegExp): void {
  t.not(r.code, 0, 'exits non-zero');
  t.not(r.code, null, 'exits by itself');
  const lines = r.output.trim().split('\n');
  t.equal(lines.length, 1, `one line: ${r.output.trim()}`);
  t.match(lines[0], /^cannot start: cannot open the database .* \(DATA_DIR\)/);
  t.match(lines[0], why);
  t.notMatch(r.output, /\n\s+at /, 'no stack trace');
}

t.test('database files deleted under a running server', async (t) => {
  const s = await startAbuseServer(t, { env: ENV });
  const baseline = s.rssMb();
  const id = await createDataset(s.base, 'before', 8);
  t.equal((await upload(s.base, id, 10, 8)).status, 201, 'an upload before the delete is acknowledged');

  for (const f of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) fs.rmSync(path.join(s.dataDir, f), { force: true });

  const ready = await fetch(`${s.base}/readyz`);
  t.equal(ready.status, 503, '/readyz: not ready');
  t.match(await ready.json(), { status: 'unavailable', reason: /deleted while open/ });
  await expectRefusal(t, await upload(s.base, id, 10, 8, 2), 503, 'STORAGE_UNAVAILABLE');
  await expectRefusal(
    t,
    await fetch(`${s.base}/datasets`, json({ name: 'after', dimension: 8 })),
    503,
    'STORAGE_UNAVAILABLE',
  );
  const ndjson = triplets(50, 8, 3)
    .map((x) => JSON.stringify(x))
    .join('\n');
  const streamed = await fetch(`${s.base}/datasets/${id}/triplets`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ndjson,
  });
  await expectRefusal(t, streamed, 503, 'STORAGE_UNAVAILABLE');
  for (const route of ['/datasets', `/datasets/${id}`, '/jobs', '/models']) {
    t.equal((await fetch(`${s.base}${route}`)).status, 200, `GET ${route} still answers`);
  }
  await expectRecovered(t, s, baseline);

  // A restart on the same DATA_DIR: nothing written after the delete may turn up.
  await stop(s);
  const again = await startAbuseServer(t, { env: { ...ENV, DATA_DIR: s.dataDir } });
  t.equal((await fetch(`${again.base}/readyz`)).status, 200, 'the restarted server is ready on a fresh file');
  const names = ((await (await fetch(`${again.base}/datasets`)).json()) as { items: { name: string }[] }).items.map(
    (d) => d.name,
  );
  t.notOk(names.includes('after'), 'the refused dataset is not there');
  t.equal((await fetch(`${again.base}/datasets/${id}`)).status, 404, 'nor the data refused after the delete');
});

t.test('the disk fills up, then space is freed', async (t) => {
  const dir = mountTmpfs(t, 'size=4m');
  if (!dir) {
    t.pass('skipped: cannot mount a tmpfs here (not root); SQLITE_FULL is covered in test/store/sqlite.test.ts');
    return;
  }
  const s = await startAbuseServer(t, { env: { ...ENV, DATA_DIR: dir } });
  t.teardown(() => stop(s).catch(() => undefined));
  const baseline = s.rssMb();
  const filler = path.join(dir, 'filler');
  fs.writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024, 1));
  const id = await createDataset(s.base, 'fill', 64);
  let acknowledged = 0;
  let full: Response | undefined;
  for (let i = 0; i < 40 && !full; i++) {
    const r = await upload(s.base, id, 200, 64, i);
    if (r.status === 201) acknowledged += 200;
    else full = r;
  }
  t.ok(full, 'the disk filled up');
  if (!full) return;
  await expectRefusal(t, full, 507, 'STORAGE_FULL');
  const ready = await fetch(`${s.base}/readyz`);
  t.equal(ready.status, 503, '/readyz: not ready while the disk is full');
  t.match(await ready.json(), { reason: /full/ });
  const ds = (await (await fetch(`${s.base}/datasets/${id}`)).json()) as { tripletCount: number };
  t.equal(ds.tripletCount, acknowledged, 'the count is what was acknowledged, no more');

  fs.rmSync(filler);
  t.equal((await fetch(`${s.base}/readyz`)).status, 200, 'ready again once space is freed');
  t.equal((await upload(s.base, id, 20, 64, 99)).status, 201, 'and writes go through');
  await expectRecovered(t, s, baseline);
  await stop(s);
  const again = await startAbuseServer(t, { env: { ...ENV, DATA_DIR: dir } });
  const after = await (await fetch(`${again.base}/datasets/${id}`)).json();
  t.equal(
    (after as { tripletCount?: number }).tripletCount,
    acknowledged + 20,
    'everything acknowledged is there after a restart',
  );
  await stop(again);
});

t.test('start-up on a read-only or unusable DATA_DIR: one line, non-zero exit', async (t) => {
  const notADir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'te-abuse-')), 'file');
  t.teardown(() => fs.rmSync(path.dirname(notADir), { recursive: true, force: true }));
  fs.writeFileSync(notADir, 'x');
  expectOneLineExit(t, await startExpectingExit(notADir), /EEXIST|ENOTDIR/);

  const ro = mountTmpfs(t, 'size=1m,ro');
  if (!ro) {
    t.pass('skipped: cannot mount a read-only tmpfs here (not root)');
    return;
  }
  expectOneLineExit(t, await startExpectingExit(ro), /read-only|readonly|unable to open/i);
  // A database that exists but cannot be written: the same refusal, not a server that answers 500s.
  const rw = mountTmpfs(t, 'size=1m');
  const s = await startAbuseServer(t, { env: { ...ENV, DATA_DIR: rw! } });
  await stop(s);
  spawnSync('mount', ['-o', 'remount,ro', rw!]);
  expectOneLineExit(t, await startExpectingExit(rw!), /read-only|readonly|unable to open/i);
});

t.test('/healthz answers while the store thread writes a large upload', async (t) => {
  const s = await startAbuseServer(t, { env: ENV });
  const baseline = s.rssMb();
  const d = 1024;
  const id = await createDataset(s.base, 'large', d);
  const n = 4000; // 4000 × 3 × 1024 float32 = 48 MiB, streamed
  const body = Buffer.alloc(n * 3 * d * 4);
  for (let i = 0; i < body.length; i += 4) body.writeFloatLE(((i >> 2) % 101) / 101, i);
  const writing = fetch(`${s.base}/datasets/${id}/triplets`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  const latencies: number[] = [];
  let done = false;
  void writing.finally(() => (done = true));
  while (!done || latencies.length < 5) {
    latencies.push(await healthLatencyMs(s.base));
    await new Promise((r) => setTimeout(r, 20));
  }
  const res = await writing;
  t.equal(res.status, 201, 'the large upload is stored');
  t.ok(
    latencies.every((ms) => Number.isFinite(ms)),
    'every /healthz during the write answered',
  );
  t.comment(`/healthz during the write: max ${Math.max(...latencies).toFixed(0)} ms over ${latencies.length} probes`);
  await expectRecovered(t, s, baseline, 384);
});

t.test('a store stalled by a lock (as by a frozen disk): /healthz and cached /embed answer', async (t) => {
  const s = await startAbuseServer(t, { env: ENV });
  const baseline = s.rssMb();
  const model = await fetch(
    `${s.base}/models`,
    json({
      W: [
        [1, 0, 0],
        [0, 1, 0],
      ],
    }),
  );
  t.equal(model.status, 201);
  const embed = () => fetch(`${s.base}/embed`, json({ inputs: [[1, 2, 3]] }));
  t.equal((await embed()).status, 200, 'the model is loaded and cached');
  const id = await createDataset(s.base, 'stalled', 4);

  // Another process holds the write lock: the store thread waits in SQLite's busy handler, as it
  // would on a disk that does not answer.
  const holder = new Database(path.join(s.dataDir, DB_FILE));
  holder.exec('BEGIN EXCLUSIVE');
  const stalled = upload(s.base, id, 5, 4);
  await new Promise((r) => setTimeout(r, 300));
  t.ok(Number.isFinite(await healthLatencyMs(s.base)), '/healthz answers while the store is stalled');
  const embedded = await embed();
  t.equal(embedded.status, 200, '/embed of a cached model answers');
  t.same(((await embedded.json()) as { embeddings: number[][] }).embeddings, [[1, 2]]);
  const ready = await fetch(`${s.base}/readyz`);
  t.equal(ready.status, 503, '/readyz: not ready while the store does not answer');
  t.match(await ready.json(), { reason: /did not answer its health check/ });
  holder.exec('COMMIT');
  holder.close();
  t.equal((await stalled).status, 201, 'the stalled write completes once the lock is gone');
  t.equal((await fetch(`${s.base}/readyz`)).status, 200, 'ready again');
  await expectRecovered(t, s, baseline);
});
