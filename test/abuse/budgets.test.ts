// Abuse cases of the memory budgets (issue 14, item 1), against the built server: requests well
// inside the body limits that used to cost gigabytes are refused up front, or served within their
// budget. Each case: a 4xx JSON error naming the budget (or a reply within it), RSS under the
// budgets plus a margin, the process alive, the read routes answering 200 afterwards.
import t, { type Test } from 'tap';
import { expectRecovered, expectRefusal, startAbuseServer, type AbuseServer } from './harness.js';

const BUDGETS = {
  JOB_MEMORY_BUDGET_MB: '256',
  REPLY_BYTES_LIMIT: String(16 * 1024 * 1024),
  MODEL_CACHE_BYTES: String(8 * 1024 * 1024),
  BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
  // The uploads are megabytes of JSON; the point here is what they cost once accepted.
  JSON_BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
  // Importing the test models parses megabytes of JSON on the event loop; load shedding would
  // answer those set-up requests 503, which is not what these cases are about.
  MAX_EVENT_LOOP_DELAY_MS: '0',
};
/** The server's own RSS beyond its baseline stays under the largest single budget plus this. */
const MARGIN_MB = 192;

const json = (s: AbuseServer, method: string, url: string, body?: unknown) =>
  fetch(`${s.base}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

/** A k×d matrix as JSON text, built as text (the numbers are not the point). */
function matrixText(k: number, d: number, scale = 1): string {
  const row = (i: number) =>
    `[${Array.from({ length: d }, (_, j) => (((i * 31 + j * 17) % 97) / 97 - 0.5) * scale).join(',')}]`;
  return `[${Array.from({ length: k }, (_, i) => row(i)).join(',')}]`;
}

async function importModel(s: AbuseServer, k: number, d: number): Promise<string> {
  const r = await json(s, 'POST', '/models', `{"W":${matrixText(k, d)}}`);
  if (r.status !== 201) throw new Error(`import ${k}×${d}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { id: string }).id;
}

async function readRoutesAnswer(t: Test, s: AbuseServer): Promise<void> {
  for (const url of ['/datasets', '/jobs', '/models', '/readyz'])
    t.equal((await fetch(`${s.base}${url}`)).status, 200, url);
}

t.test('memory budgets hold against the issue’s requests', async (t) => {
  const s = await startAbuseServer(t, { env: BUDGETS, rssLimitMb: 1536 });
  const baseline = s.rssMb();

  await t.test('the 123-byte /train on d=8192 (k=4096, historySize 100, identity) is refused up front', async (t) => {
    const ds = (await (await json(s, 'POST', '/datasets', { dimension: 8192 })).json()) as { id: string };
    const vec = matrixText(1, 8192).slice(1, -1);
    const triplets = Array.from({ length: 16 }, () => `{"anchor":${vec},"positive":${vec},"negative":${vec}}`);
    const up = await json(s, 'POST', `/datasets/${ds.id}/triplets`, `{"triplets":[${triplets.join(',')}]}`);
    t.equal(up.status, 201, await up.clone().text());
    s.resetPeak();
    const body = { datasetId: ds.id, outputDimension: 4096, historySize: 100, init: 'identity' };
    t.ok(JSON.stringify(body).length < 130, 'a request of about 123 bytes');
    const r = await json(s, 'POST', '/train', body);
    const text = await r.clone().text();
    await expectRefusal(t, r, 422, 'BUDGET_EXCEEDED');
    t.match(text, /JOB_MEMORY_BUDGET_MB/);
    // the same request over and over: nothing is queued, nothing grows
    for (let i = 0; i < 5; i++) t.equal((await json(s, 'POST', '/train', body)).status, 422);
    t.equal(((await (await fetch(`${s.base}/jobs`)).json()) as { items: unknown[] }).items.length, 0, 'no job queued');
    t.ok(s.peakRssMb() < baseline + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB`);
    await expectRecovered(t, s, baseline, MARGIN_MB);
  });

  await t.test('an L-BFGS job with a long history gives its memory back when it ends', async (t) => {
    // k = 256, d = 512, historySize 15: with its checkpoints, ~140 MB estimated, within the budget
    const d = 512;
    const ds = (await (await json(s, 'POST', '/datasets', { dimension: d })).json()) as { id: string };
    const vec = (i: number) => matrixText(1, d, 1 + (i % 7)).slice(1, -1);
    const triplets = Array.from(
      { length: 300 },
      (_, i) => `{"anchor":${vec(i)},"positive":${vec(i + 1)},"negative":${vec(i + 3)}}`,
    );
    const up = await json(s, 'POST', `/datasets/${ds.id}/triplets`, `{"triplets":[${triplets.join(',')}]}`);
    t.equal(up.status, 201, await up.clone().text());
    const before = s.rssMb();
    s.resetPeak();
    const body = { datasetId: ds.id, outputDimension: 256, historySize: 15, maxIterations: 60, init: 'uniform' };
    const r = await json(s, 'POST', '/train', body);
    t.equal(r.status, 202, await r.clone().text());
    const { id } = (await r.json()) as { id: string };
    let status = 'queued';
    for (let i = 0; i < 600 && (status === 'queued' || status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = ((await (await fetch(`${s.base}/jobs/${id}`)).json()) as { status: string }).status;
    }
    t.equal(status, 'succeeded', 'the job ends');
    t.ok(s.peakRssMb() < before + 256 + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB while it trained`);
    await expectRecovered(t, s, before, MARGIN_MB);
  });

  await t.test('mining with batchSize 20000 is refused up front', async (t) => {
    const ds = (await (await json(s, 'POST', '/datasets', { dimension: 8 })).json()) as { id: string };
    const samples = Array.from({ length: 4000 }, (_, i) => ({
      vector: Array.from({ length: 8 }, (_, j) => ((i * 7 + j) % 13) / 13),
      label: i % 1000,
    }));
    t.equal((await json(s, 'POST', `/datasets/${ds.id}/samples`, { samples })).status, 201);
    s.resetPeak();
    // 1000 labels × samplesPerLabel 8 cannot fill it: refused for the data before any cost is counted
    const unfillable = await json(s, 'POST', '/train', { datasetId: ds.id, outputDimension: 8, batchSize: 20000 });
    const why = await unfillable.clone().text();
    await expectRefusal(t, unfillable, 422, 'BATCH_EXCEEDS_DATA');
    t.match(why, /batchSize 20000 .* labels × samplesPerLabel = 8000/);
    // with samplesPerLabel 20 the data could fill it (1000 × 20): the memory budget refuses it
    const r = await json(s, 'POST', '/train', {
      datasetId: ds.id,
      outputDimension: 8,
      batchSize: 20000,
      samplesPerLabel: 20,
    });
    const text = await r.clone().text();
    await expectRefusal(t, r, 422, 'BUDGET_EXCEEDED');
    t.match(text, /batch distances .*B²/);
    t.ok(s.peakRssMb() < baseline + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB`);
    await expectRecovered(t, s, baseline, MARGIN_MB);
  });

  await t.test('a huge /embed reply on a k=4096 model is refused; a binary one within budget is served', async (t) => {
    const model = await importModel(s, 4096, 2);
    const inputs = `[${Array.from({ length: 4096 }, () => '[1,2]').join(',')}]`;
    s.resetPeak();
    // 4096 rows × 4096 values as JSON text: ~400 MB from a ~25 KB request
    const r = await json(s, 'POST', '/embed', `{"model":"${model}","inputs":${inputs}}`);
    const text = await r.clone().text();
    await expectRefusal(t, r, 413, 'REPLY_TOO_LARGE');
    t.match(text, /REPLY_BYTES_LIMIT/);
    const small = `[${Array.from({ length: 256 }, () => '[1,2]').join(',')}]`;
    const bin = await fetch(`${s.base}/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
      body: `{"model":"${model}","inputs":${small}}`,
    });
    t.equal(bin.status, 200);
    t.equal((await bin.arrayBuffer()).byteLength, 256 * 4096 * 4, '4 MiB, within REPLY_BYTES_LIMIT');
    const a = `[${Array.from({ length: 1500 }, () => '[1,2]').join(',')}]`;
    const d = await json(s, 'POST', '/distances', `{"model":"${model}","a":${a}}`);
    await expectRefusal(t, d, 413, 'REPLY_TOO_LARGE');
    t.ok(s.peakRssMb() < baseline + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB`);
    await expectRecovered(t, s, baseline, MARGIN_MB);
  });

  await t.test('GET /models/:id/weights of a big model streams; one over the cache is refused', async (t) => {
    // 512×1024 float64: 0.5M numbers, ~10 MB of JSON text, 6 MiB in the cache
    const model = await importModel(s, 512, 1024);
    const big = await importModel(s, 768, 1024); // 9 MiB loaded: over MODEL_CACHE_BYTES
    // the set-up's imports parse megabytes of JSON; measure from after them
    const before = s.rssMb();
    s.resetPeak();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${s.base}/models/${model}/weights`);
      t.equal(r.status, 200, r.status === 200 ? 'streamed' : await r.clone().text());
      const w = (await r.json()) as { rows: number; cols: number; W: number[][] };
      t.same([w.rows, w.cols, w.W.length, w.W[511].length], [512, 1024, 512, 1024]);
    }
    t.ok(s.peakRssMb() < before + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB`);
    const r = await fetch(`${s.base}/models/${big}/weights`);
    const text = await r.clone().text();
    await expectRefusal(t, r, 422, 'BUDGET_EXCEEDED');
    t.match(text, /MODEL_CACHE_BYTES/);
    await expectRecovered(t, s, before, MARGIN_MB);
  });

  await t.test('many models in turn: the cache stays within MODEL_CACHE_BYTES', async (t) => {
    // 64×2048 each: 1.5 MiB in the cache; 12 of them would be 18 MiB without the byte budget
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await importModel(s, 64, 2048));
    const before = s.rssMb();
    s.resetPeak();
    const row = `[${new Array(2048).fill(1).join(',')}]`;
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const r = await json(s, 'POST', '/embed', `{"model":"${id}","inputs":[${row}]}`);
        t.equal(r.status, 200);
        await r.arrayBuffer();
      }
    }
    t.ok(s.peakRssMb() < before + MARGIN_MB, `peak RSS ${s.peakRssMb().toFixed(0)} MiB`);
    await expectRecovered(t, s, before, MARGIN_MB);
    await readRoutesAnswer(t, s);
  });
});
