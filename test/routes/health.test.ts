// /healthz and /readyz against the storage: readiness follows the store's own health check, and a
// write the store cannot make durable is refused with a code, never acknowledged.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DB_FILE } from '../../src/app.js';
import { expectError, makeTriplets, tempDir, testApp } from '../helpers.js';

t.test('deleted database files: /readyz 503 with the reason, writes 503 STORAGE_UNAVAILABLE', async (t) => {
  const dataDir = tempDir(t);
  const app = await testApp(t, { dataDir });
  const ready = await app.inject({ url: '/readyz' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ready' });
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json();

  const file = path.join(dataDir, DB_FILE);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });

  const unready = await app.inject({ url: '/readyz' });
  t.equal(unready.statusCode, 503);
  t.match(unready.json(), { status: 'unavailable', reason: /deleted while open/ });
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the process itself is alive');

  const upload = await app.inject({
    method: 'POST',
    url: `/datasets/${ds.id}/triplets`,
    payload: { triplets: makeTriplets(3, 2) },
  });
  expectError(t, upload, 503, 'STORAGE_UNAVAILABLE');
  t.match(upload.json().message, /deleted while open/);
  expectError(
    t,
    await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } }),
    503,
    'STORAGE_UNAVAILABLE',
  );
});

t.test('an unusable DATA_DIR fails start-up with one clear error', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'not-a-dir'), 'x');
  await t.rejects(testApp(t, { dataDir: path.join(dir, 'not-a-dir') }), {
    code: 'STORAGE_UNAVAILABLE',
    message: /^cannot open the database .* \(DATA_DIR\)/,
  });
});
