// Idempotency-Key on POST /galleries/:id/items (docs/decisions/0034-identity-level-data.md and
// 0031-galleries.md): JSON, NDJSON and binary uploads, a retry answered with the first reply and
// nothing written, another body refused, keys per route, gallery and API key, across a restart.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { encodeBinaryItems } from '../../src/http/gallery-items.js';
import { expectError, tempDir, testApp } from '../helpers.js';

async function setup(app: App, headers: Record<string, string> = {}): Promise<{ model: string; gallery: string }> {
  const W = [
    [1, 0, 0.5],
    [0, 1, -0.5],
  ];
  const m = await app.inject({ method: 'POST', url: '/models', payload: { W }, headers });
  if (m.statusCode !== 201) throw new Error(m.body);
  const model = m.json().id as string;
  return { model, gallery: await newGallery(app, model, headers) };
}

async function newGallery(app: App, model: string, headers: Record<string, string> = {}): Promise<string> {
  const g = await app.inject({ method: 'POST', url: '/galleries', payload: { model }, headers });
  if (g.statusCode !== 201) throw new Error(g.body);
  return g.json().id as string;
}

const post = (app: App, id: string, type: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: `/galleries/${id}/items`,
    headers: { 'content-type': type, ...headers },
    payload: payload as string,
  });
const json = (app: App, id: string, payload: unknown, key?: string, headers: Record<string, string> = {}) =>
  post(app, id, 'application/json', payload, key === undefined ? headers : { ...headers, 'idempotency-key': key });
const state = async (app: App, id: string) => {
  const g = (await app.inject({ url: `/galleries/${id}` })).json();
  return { itemCount: g.itemCount as number, version: g.version as number };
};

const items = (ids: string[], seed = 1) =>
  ids.map((id, i) => ({ id, label: `p${i % 2}`, input: [seed + i, seed - i, 0.5 * i] }));

t.test('JSON: a retry gets the first reply and writes nothing; another body is 422; across a restart', async (t) => {
  const dataDir = tempDir(t);
  let app = await testApp(t, { dataDir });
  const { model, gallery } = await setup(app);
  const body = { items: items(['a', 'b']) };

  const first = await json(app, gallery, body, 'g-0001');
  t.equal(first.statusCode, 201);
  t.same(first.json(), { added: 2, itemCount: 2, version: 2, model });
  t.equal(first.headers['idempotent-replayed'], undefined);

  const retry = await json(app, gallery, body, 'g-0001');
  t.equal(retry.statusCode, 201);
  t.same(retry.json(), first.json(), 'the first reply');
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(await state(app, gallery), { itemCount: 2, version: 2 }, 'no item written, the version unchanged');

  const other = await json(app, gallery, { items: items(['c']) }, 'g-0001');
  expectError(t, other, 422, 'IDEMPOTENCY_KEY_REUSED');
  const same = await json(app, gallery, { items: items(['a', 'b'], 7) }, 'g-0001');
  expectError(t, same, 422, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await state(app, gallery), { itemCount: 2, version: 2 });

  // a later upload without the key, then the retry again: still the first reply, as it was
  t.same((await json(app, gallery, { items: items(['c']) })).json(), { added: 1, itemCount: 3, version: 3, model });
  t.same((await json(app, gallery, body, 'g-0001')).json(), first.json());

  // the same key on another gallery is another key
  const g2 = await newGallery(app, model);
  t.same((await json(app, g2, body, 'g-0001')).json(), { added: 2, itemCount: 2, version: 2, model });

  for (const bad of ['', 'x'.repeat(256), 'caf\u00e9', 'tab\there']) {
    const r = await json(app, gallery, body, bad);
    expectError(t, r, 400, 'INVALID_IDEMPOTENCY_KEY');
  }
  t.same(await state(app, gallery), { itemCount: 3, version: 3 }, 'a bad key writes nothing');

  // a failed upload records no key: the same key with a good body then runs
  const tooWide = { items: [{ id: 'z', input: [1, 2, 3, 4] }] };
  t.equal((await json(app, gallery, tooWide, 'g-fail')).statusCode, 400);
  t.same((await json(app, gallery, { items: items(['z']) }, 'g-fail')).json(), {
    added: 1,
    itemCount: 4,
    version: 4,
    model,
  });

  await app.close();
  app = await testApp(t, { dataDir });
  const afterRestart = await json(app, gallery, body, 'g-0001');
  t.equal(afterRestart.statusCode, 201);
  t.same(afterRestart.json(), first.json(), 'the first reply, after a restart');
  t.equal(afterRestart.headers['idempotent-replayed'], 'true');
  expectError(t, await json(app, gallery, { items: items(['c']) }, 'g-0001'), 422, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await state(app, gallery), { itemCount: 4, version: 4 });
});

t.test('NDJSON and binary: hashed as they stream, replayed, another body refused', async (t) => {
  const app = await testApp(t);
  const { model, gallery } = await setup(app);
  const nd = items(['n1', 'n2'])
    .map((it) => JSON.stringify(it) + '\n')
    .join('');
  const ndPost = (payload: string) =>
    post(app, gallery, 'application/x-ndjson', payload, { 'idempotency-key': 'nd-1' });
  const first = await ndPost(nd);
  t.same(first.json(), { added: 2, itemCount: 2, version: 2, model });
  const retry = await ndPost(nd);
  t.same(retry.json(), first.json());
  t.equal(retry.headers['idempotent-replayed'], 'true');
  expectError(t, await ndPost(nd + JSON.stringify(items(['n3'])[0]) + '\n'), 422, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await state(app, gallery), { itemCount: 2, version: 2 });

  const bin = encodeBinaryItems([
    { id: 'b1', label: 4, input: [1, 2, 3] },
    { id: 'b2', input: [4, 5, 6] },
  ]);
  const binPost = (payload: Buffer) =>
    post(app, gallery, 'application/octet-stream', payload, { 'idempotency-key': 'bin-1' });
  const b1 = await binPost(bin);
  t.same(b1.json(), { added: 2, itemCount: 4, version: 3, model });
  const b2 = await binPost(bin);
  t.same(b2.json(), b1.json());
  t.equal(b2.headers['idempotent-replayed'], 'true');
  expectError(t, await binPost(encodeBinaryItems([{ id: 'b3', input: [0, 0, 0] }])), 422, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await state(app, gallery), { itemCount: 4, version: 3 });
  const r = await post(app, gallery, 'application/octet-stream', bin, { 'idempotency-key': 'x'.repeat(256) });
  expectError(t, r, 400, 'INVALID_IDEMPOTENCY_KEY');
});

t.test('keys are per API key', async (t) => {
  const keys = ['k'.repeat(16), 'l'.repeat(16)];
  const app = await testApp(t, { config: { apiKeys: keys } });
  const auth = (k: string) => ({ authorization: `Bearer ${k}` });
  const { model, gallery } = await setup(app, auth(keys[0]));
  const body = { items: items(['a']) };
  const a = await json(app, gallery, body, 'same', auth(keys[0]));
  const b = await json(app, gallery, { items: items(['b']) }, 'same', auth(keys[1]));
  t.same(
    [a.json(), b.json()],
    [
      { added: 1, itemCount: 1, version: 2, model },
      { added: 1, itemCount: 2, version: 3, model },
    ],
    'two callers, two keys',
  );
  const again = await json(app, gallery, body, 'same', auth(keys[0]));
  t.same(again.json(), a.json());
  t.equal(again.headers['idempotent-replayed'], 'true');
});
