// Heavy work under abuse, against the built server: big indexTriplets (INDEX_TRIPLETS_MEMORY_MB),
// evaluation of a large dataset (EVALUATION_MAX_WORK), and eight evaluations whose clients hang
// up (EVALUATION_CONCURRENCY; their worker threads must end). /healthz answers throughout.
import t from 'tap';
import {
  createDataset,
  evaluationsToAbandon,
  importModel,
  indexTripletsBody,
  postEvaluate,
  postIndexTriplets,
  sampleHealth,
  threadCount,
  uploadSamples,
  waitFor,
} from '../../scripts/heavy-attacks.js';
import { expectRecovered, expectRefusal, startAbuseServer } from './harness.js';

/** RSS above the baseline plus the budget that a case may reach (allocator slack, V8 heaps). */
const MARGIN_MB = 256;

t.test('big indexTriplets are refused before any read; ones within budget are served', async (t) => {
  const budgetMb = 64;
  const s = await startAbuseServer(t, { env: { INDEX_TRIPLETS_MEMORY_MB: String(budgetMb) } });
  const d = 1024;
  const n = 2000;
  const id = await createDataset(s.base, d);
  await uploadSamples(s.base, id, n, d);
  const baseline = s.rssMb();
  s.resetPeak();
  const tooMany = indexTripletsBody(20_000, n);
  const within = indexTripletsBody(2000, n);
  const health = sampleHealth(s.base);
  // 4·d·(n + 3m) bytes: 20,000 triplets need ~242 MiB
  for (let i = 0; i < 4; i++)
    await expectRefusal(t, await postIndexTriplets(s.base, id, tooMany), 422, 'LIMIT_EXCEEDED');
  const big = (await (await postIndexTriplets(s.base, id, tooMany)).json()) as { message: string };
  t.match(big.message, /INDEX_TRIPLETS_MEMORY_MB/);
  // 2,000 triplets need ~31 MiB: served, several at once (one gathers, the others wait their turn)
  const ok = await Promise.all(Array.from({ length: 4 }, () => postIndexTriplets(s.base, id, within)));
  t.same(
    ok.map((r) => r.status),
    [201, 201, 201, 201],
  );
  const latencies = await health.stop();
  t.ok(latencies.length > 0 && latencies.every(Number.isFinite), '/healthz answered throughout');
  const ds = (await (await fetch(`${s.base}/datasets/${id}`)).json()) as { tripletCount: number };
  t.equal(ds.tripletCount, 8000);
  t.ok(
    s.peakRssMb() <= baseline + budgetMb + MARGIN_MB,
    `peak RSS ${s.peakRssMb().toFixed(0)} MiB within the budget plus ${MARGIN_MB} MiB of ${baseline.toFixed(0)} MiB`,
  );
  await expectRecovered(t, s, baseline);
});

t.test('evaluation of a large dataset is refused; hung-up evaluations end their threads', async (t) => {
  const s = await startAbuseServer(t, {
    env: { EVALUATION_CONCURRENCY: '2', TRIPLET_THREADS: '2', EVALUATION_MAX_WORK: String(40e9) },
  });
  const d = 16;
  const model = await importModel(s.base, 64, d);
  // n²·(k + 8) = 25,000² · 72 ≈ 4.5e10 multiply-adds: over the budget
  const large = await createDataset(s.base, d);
  await uploadSamples(s.base, large, 25_000, d);
  const refused = await postEvaluate(s.base, model, large);
  t.match(await refused.clone().json(), { message: /EVALUATION_MAX_WORK/ });
  await expectRefusal(t, refused, 422, 'LIMIT_EXCEEDED');

  // within the budget but seconds of work: 18,000² · 72 ≈ 2.3e10
  const slow = await createDataset(s.base, d);
  await uploadSamples(s.base, slow, 18_000, d);
  const small = await createDataset(s.base, d);
  await uploadSamples(s.base, small, 200, d);
  t.equal((await postEvaluate(s.base, model, small)).status, 200, 'a small evaluation is served');
  const baseThreads = threadCount(s.pid);
  const baseline = s.rssMb();
  const health = sampleHealth(s.base);

  const hangUp = evaluationsToAbandon(s.port, model, slow, 8);
  t.ok(await waitFor(() => threadCount(s.pid) > baseThreads, 30_000), 'evaluation threads started');
  // two run (EVALUATION_CONCURRENCY), so a further one is told to come back later
  const busy = await postEvaluate(s.base, model, small);
  t.equal(busy.headers.get('retry-after'), '5');
  await expectRefusal(t, busy, 503, 'OVERLOADED');
  hangUp();
  t.ok(
    await waitFor(() => threadCount(s.pid) <= baseThreads, 60_000),
    `threads back to ${baseThreads} (now ${threadCount(s.pid)}) once the clients hung up`,
  );
  const latencies = await health.stop();
  t.ok(latencies.length > 0 && latencies.every(Number.isFinite), '/healthz answered throughout');
  t.equal((await postEvaluate(s.base, model, small)).status, 200, 'evaluation is served again');
  for (const path of ['/datasets', '/models', `/models/${model}`, `/datasets/${slow}`])
    t.equal((await fetch(`${s.base}${path}`)).status, 200, `GET ${path}`);
  await expectRecovered(t, s, baseline);
});
