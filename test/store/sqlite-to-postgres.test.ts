// The SQLite → PostgreSQL copy: everything arrives with its ids (datasets and their vectors in
// order, labels of both kinds, jobs, models with weights and training params), it is verified, and
// a database that already holds data is refused. Needs a PostgreSQL server (see pg-test-db.ts).
import path from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { copySqliteToPostgres } from '../../src/tools/sqlite-to-postgres.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { checksum } from '../../src/store/rows.js';
import { openPostgresStore } from '../../src/store/postgres.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from '../helpers.js';
import { indexedDataset, LEASE, model, params, seqF32 } from './contract.js';
import { freshDatabase, inCi, unavailable } from './pg-test-db.js';

/** Everything a Store can list, read back for comparison. */
async function snapshot(store: Store) {
  const datasets = (await store.listDatasets({ limit: 100 })).items;
  const data = await Promise.all(
    datasets.map(async (d) => ({
      triplets: Array.from((await store.readTriplets(d.id)).data),
      samples: await store.readSamples(d.id).then((s) => ({ data: Array.from(s.data), labels: s.labels })),
    })),
  );
  const jobs = (await store.listJobs({ limit: 100 })).items;
  const models = (await store.listModels({ limit: 100 })).items;
  const weights = await Promise.all(models.map(async (m) => Array.from((await store.getModelWeights(m.id))!)));
  const aliases = (await store.listAliases({ limit: 100 })).items;
  const galleries = (await store.listGalleries({ limit: 100 })).items;
  const items = await Promise.all(
    galleries.map(async (g) => {
      const e = await store.readGalleryEmbeddings(g.id);
      return { ids: e.ids, labels: e.labels, embeddings: Array.from(e.embeddings) };
    }),
  );
  return { datasets, data, jobs, models, weights, aliases, galleries, items };
}

const reason = await unavailable();
if (reason && inCi) t.fail(`the copy to PostgreSQL cannot be tested, and CI must not skip it: ${reason}`);
else if (reason) t.test('SQLite → PostgreSQL copy', { skip: reason }, async () => {});
else {
  t.test('a copy keeps every id, byte and record, and is verified', async (t) => {
    const file = path.join(tempDir(t), 'src.sqlite');
    const src = openSqliteStore(file);
    const a = await src.createDataset({ name: 'a', dimension: 2 });
    await src.appendTriplets(a.id, seqF32(12), 2);
    await src.appendTriplets(a.id, seqF32(6, 50), 1);
    await src.appendSamples(a.id, seqF32(6), ['x', 1, '1']);
    await src.stageChunk('up_dead', a.id, 'triplets', seqF32(6), 1); // never committed: left out
    const b = await src.createDataset({ name: null, dimension: 1 });
    const job = await src.createJob({ datasetId: a.id, params: params({ margin: 0.4 }) });
    await src.claimNextJob(LEASE);
    await src.succeedJob(
      job.id,
      model(2, 2, { jobId: job.id, trainingParams: params({ margin: 0.4 }) }),
      { trainLoss: 1 },
      LEASE.owner,
    );
    await src.createJob({ datasetId: b.id, params: params(), modelName: 'named', promote: true });
    const imported = await src.createModel(model(1, 2, { name: 'imported', normalize: true }));
    await src.setAlias('faces', imported.id);
    const g = await src.createGallery({
      name: 'staff',
      modelId: imported.id,
      dimension: 2,
      embeddingDimension: 1,
      index: 'exact',
    });
    await src.stageGalleryItems('up_g', g.id, ['b', 'a'], ['ann', 7], seqF32(4), seqF32(2, 9));
    await src.commitGalleryItems('up_g', g.id, imported.id, 2, { max: 100, setting: 'GALLERY_MAX_ITEMS' });
    const before = await snapshot(src);
    await src.close();

    const url = await freshDatabase(t);
    const report = await copySqliteToPostgres(file, url);
    t.same(report, {
      datasets: 2,
      chunks: 3,
      jobs: 2,
      models: 2,
      aliases: 2,
      galleries: 1,
      galleryItems: 2,
      verified: true,
    });
    const dst = await openPostgresStore(url);
    t.teardown(() => dst.close());
    t.same(await snapshot(dst), before, 'the same records, vectors, labels and weights, in the same order');
    await t.rejects(
      copySqliteToPostgres(file, url),
      /already holds/,
      'a second copy into the same database is refused',
    );
    t.same(await snapshot(dst), before, 'and changes nothing');
  });

  t.test('index triplets arrive with their sample indices (chunk_refs since migration 9)', async (t) => {
    const file = path.join(tempDir(t), 'refs.sqlite');
    const src = openSqliteStore(file);
    const refs = [0, 2, 1, 2, 0, 1];
    const id = await indexedDataset(src, ['a', 'b', 'a'], refs);
    await src.close();
    const url = await freshDatabase(t);
    await copySqliteToPostgres(file, url);
    const dst = await openPostgresStore(url);
    t.teardown(() => dst.close());
    const got = await dst.readIndexedTriplets(id);
    t.same(Array.from(got!.refs), refs, 'the indices');
    t.same(Array.from(got!.samples.data), [10, 11, 12], 'and the samples they index');
  });

  t.test('a file from before aliases: default is its newest model, as the migration would set it', async (t) => {
    const file = path.join(tempDir(t), 'old.sqlite');
    const db = new Database(file);
    for (const step of MIGRATIONS.slice(0, 3)) db.exec(step);
    db.pragma('user_version = 3');
    const insert = db.prepare(
      `INSERT INTO models (id, job_id, name, input_dimension, output_dimension, normalize, metrics, weights, checksum, created_at)
       VALUES (?, NULL, NULL, 1, 1, 0, '{}', ?, ?, '2026-01-01T00:00:00.000Z')`,
    );
    const w = Buffer.alloc(8);
    insert.run('mdl_older', w, checksum(w));
    insert.run('mdl_newer', w, checksum(w));
    db.close();
    const url = await freshDatabase(t);
    t.match(await copySqliteToPostgres(file, url), { models: 2, aliases: 1, verified: true });
    const dst = await openPostgresStore(url);
    t.teardown(() => dst.close());
    t.match(await dst.getAlias('default'), { model: 'mdl_newer', previousModel: null });
  });
}
