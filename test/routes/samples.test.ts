// Labelled samples in three formats, and triplets given by sample index.
import t from 'tap';
import type { App } from '../../src/app-types.js';
import { createDataset, expectError, stagedChunks, testApp, waitForJob } from '../helpers.js';

interface Sample {
  vector: number[];
  label: string | number;
}

function samples(n: number, d: number, labels: (string | number)[]): Sample[] {
  return Array.from({ length: n }, (_, i) => ({
    vector: Array.from({ length: d }, (_, j) => Math.fround(Math.sin(i * 7 + j * 3) * 2)),
    label: labels[i % labels.length],
  }));
}

function binarySamples(ss: { vector: number[]; label: number }[]): Buffer {
  const d = ss[0].vector.length;
  const b = Buffer.alloc(ss.length * 4 * (d + 1));
  ss.forEach((s, i) => {
    b.writeInt32LE(s.label, i * 4 * (d + 1));
    s.vector.forEach((v, j) => b.writeFloatLE(v, i * 4 * (d + 1) + 4 + 4 * j));
  });
  return b;
}

const post = (app: App, id: string, payload: unknown, type = 'application/json') =>
  app.inject({
    method: 'POST',
    url: `/datasets/${id}/samples`,
    headers: { 'content-type': type },
    payload: payload as string,
  });

t.test('samples upload as JSON, NDJSON and binary, with string and integer labels', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  const a = samples(4, 3, ['alice', 7]);
  let r = await post(app, id, { samples: a });
  t.equal(r.statusCode, 201);
  t.same(r.json(), { added: 4, sampleCount: 4 });

  const b = samples(3, 3, ['bob']);
  r = await post(app, id, b.map((s) => JSON.stringify(s)).join('\n') + '\n\n', 'application/x-ndjson');
  t.equal(r.statusCode, 201, r.body);
  t.same(r.json(), { added: 3, sampleCount: 7 });

  const c = samples(2, 3, [-5, 2147483647]) as { vector: number[]; label: number }[];
  r = await post(app, id, binarySamples(c), 'application/octet-stream');
  t.equal(r.statusCode, 201, r.body);
  t.same(r.json(), { added: 2, sampleCount: 9 });

  const stored = await app.services.store.readSamples(id);
  t.same(
    stored.labels,
    ['alice', 7, 'alice', 7, 'bob', 'bob', 'bob', -5, 2147483647],
    'labels keep their type and order',
  );
  const all = [...a, ...b, ...c];
  t.same(Array.from(stored.data), all.flatMap((s) => s.vector).map(Math.fround), 'vectors stored in upload order');
  t.equal((await app.inject({ url: `/datasets/${id}` })).json().sampleCount, 9);
});

t.test('bad samples are refused whole', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 3);
  await post(app, id, { samples: samples(2, 3, ['x']) });
  const cases: [unknown, string, number, string][] = [
    [{ samples: [{ vector: [1, 2], label: 'x' }] }, 'application/json', 400, 'DIMENSION_MISMATCH'],
    [{ samples: [{ vector: [1, 2, 3], label: 1.5 }] }, 'application/json', 400, 'VALIDATION_ERROR'],
    [{ samples: [{ vector: [1, 2, 3], label: '' }] }, 'application/json', 400, 'VALIDATION_ERROR'],
    [{ samples: [{ vector: [1, 2, 3] }] }, 'application/json', 400, 'VALIDATION_ERROR'],
    [{ samples: [{ vector: [1, 2, 3], label: 'a', extra: 1 }] }, 'application/json', 400, 'VALIDATION_ERROR'],
    [{ samples: [] }, 'application/json', 400, 'VALIDATION_ERROR'],
    [
      '{"vector":[1,2,3],"label":"a"}\n{"vector":[1,2],"label":"a"}\n',
      'application/x-ndjson',
      400,
      'DIMENSION_MISMATCH',
    ],
    [
      '{"vector":[1,2,3],"label":"a"}\n{"vector":[1,2,3],"label":null}\n',
      'application/x-ndjson',
      400,
      'VALIDATION_ERROR',
    ],
    ['{"vector":[1,2,3]}\n', 'application/x-ndjson', 400, 'VALIDATION_ERROR'],
    ['not json\n', 'application/x-ndjson', 400, 'INVALID_JSON'],
    [Buffer.alloc(4 * 4 + 3), 'application/octet-stream', 400, 'DIMENSION_MISMATCH'],
    [binarySamples([{ vector: [1, NaN, 3], label: 1 }]), 'application/octet-stream', 400, 'NON_FINITE_VALUE'],
    ['', 'application/x-ndjson', 400, 'EMPTY_BATCH'],
  ];
  for (const [payload, type, status, code] of cases) {
    const r = await post(
      app,
      id,
      typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload),
      type,
    );
    expectError(t, r, status, code);
  }
  t.equal((await app.services.store.readSamples(id)).count, 2, 'sample count unchanged');
  t.equal(stagedChunks(app), 0, 'nothing staged is left');
  expectError(t, await post(app, 'ds_nope', { samples: samples(1, 3, ['x']) }), 404, 'DATASET_NOT_FOUND');
  expectError(t, await post(app, id, 'x', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  const limited = await testApp(t, { limits: { maxSamplesPerDataset: 3 } });
  const small = await createDataset(limited, 3);
  expectError(t, await post(limited, small, { samples: samples(4, 3, ['x']) }), 422, 'LIMIT_EXCEEDED');
});

t.test('indexTriplets copy the indexed samples into triplets', async (t) => {
  const app = await testApp(t);
  const id = await createDataset(app, 2);
  expectError(
    t,
    await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { indexTriplets: [[0, 1, 2]] } }),
    422,
    'NO_SAMPLES',
  );
  const ss = [
    { vector: [0, 0], label: 'a' },
    { vector: [0.1, 0], label: 'a' },
    { vector: [5, 5], label: 'b' },
  ];
  await post(app, id, { samples: ss });
  let r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: {
      indexTriplets: [
        [0, 1, 2],
        [1, 0, 2],
      ],
    },
  });
  t.equal(r.statusCode, 201, r.body);
  t.same(r.json(), { added: 2, tripletCount: 2 });
  const stored = await app.services.store.readTriplets(id);
  t.same(Array.from(stored.data), [0, 0, 0.1, 0, 5, 5, 0.1, 0, 0, 0, 5, 5].map(Math.fround));

  r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: {
      indexTriplets: [
        [0, 1, 2],
        [0, 1, 3],
      ],
    },
  });
  expectError(t, r, 400, 'INDEX_OUT_OF_RANGE');
  t.match(r.json().message, /indexTriplets\[1\]\[2\]/);
  r = await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { indexTriplets: [[0, -1, 2]] } });
  expectError(t, r, 400, 'VALIDATION_ERROR');
  r = await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: { indexTriplets: [[0, 1]] } });
  expectError(t, r, 400, 'VALIDATION_ERROR');
  r = await app.inject({
    method: 'POST',
    url: `/datasets/${id}/triplets`,
    payload: { indexTriplets: [[0, 1, 2]], triplets: [{ anchor: [0, 0], positive: [0, 0], negative: [1, 1] }] },
  });
  expectError(t, r, 400, 'VALIDATION_ERROR');
  r = await app.inject({ method: 'POST', url: `/datasets/${id}/triplets`, payload: {} });
  expectError(t, r, 400, 'VALIDATION_ERROR');
  t.equal((await app.services.store.readTriplets(id)).count, 2, 'refused uploads added nothing');
});

t.test('a triplet job on indexTriplets trains on the samples by index, as on the same rows as vectors', async (t) => {
  const app = await testApp(t);
  const d = 6;
  const labels = ['a', 'b', 'c', 'd'];
  const ss = samples(40, d, labels);
  const index: number[][] = [];
  for (let a = 0; a < 40; a++)
    for (const step of [4, 8, 12])
      index.push([a, (a + step) % 40, (a + step + 1) % 40], [a, (a + 2 * step) % 40, (a + 3) % 40]);
  const byIndex = await createDataset(app, d);
  await post(app, byIndex, { samples: ss });
  const up = await app.inject({
    method: 'POST',
    url: `/datasets/${byIndex}/triplets`,
    payload: { indexTriplets: index },
  });
  t.equal(up.statusCode, 201, up.body);
  const rows = (i: number) => ss[i].vector;
  const byVector = await createDataset(
    app,
    d,
    index.map(([a, p, n]) => ({ anchor: rows(a), positive: rows(p), negative: rows(n) })),
  );
  const trained = [];
  for (const datasetId of [byIndex, byVector]) {
    const r = await app.inject({
      method: 'POST',
      url: '/train',
      payload: { datasetId, mining: 'none', outputDimension: 3, maxIterations: 40, seed: 5 },
    });
    t.equal(r.statusCode, 202, r.body);
    const job = await waitForJob(app, r.json().id);
    t.equal(job.status, 'succeeded', JSON.stringify(job.error));
    trained.push(job.metrics);
  }
  const [a, b] = trained;
  t.ok(a.trainLoss < 0.2, `the indexed job trained: loss ${a.trainLoss} below the margin, a collapsed map's`);
  t.ok(
    Math.abs(a.trainLoss - b.trainLoss) <= 1e-4 + 1e-3 * b.trainLoss,
    `loss ${a.trainLoss} by index, ${b.trainLoss} as vectors`,
  );
  t.equal(a.trainCount, b.trainCount);
});
