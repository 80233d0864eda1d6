// loadConfig: defaults, overrides, and one error naming every bad variable.
import path from 'node:path';
import t from 'tap';
import { ConfigError, DEFAULT_LIMITS, loadConfig, makeConfig } from '../src/config.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.equal(c.port, 8080);
  t.equal(c.host, '0.0.0.0');
  t.equal(c.dataDir, path.resolve('./data'));
  t.ok(path.isAbsolute(c.dataDir), 'DATA_DIR is resolved');
  t.equal(c.logLevel, 'info');
  t.equal(c.trainConcurrency, 1);
  t.same(c.limits, DEFAULT_LIMITS);
  // empty variables count as unset
  const e = loadConfig({ PORT: '', HOST: '', DATA_DIR: '', LOG_LEVEL: '', TRAIN_CONCURRENCY: '' });
  t.equal(e.port, 8080);
  t.equal(e.host, '0.0.0.0');
  t.equal(e.dataDir, path.resolve('./data'));
  t.equal(e.logLevel, 'info');
  t.equal(e.trainConcurrency, 1);
});

t.test('overrides', async (t) => {
  const c = loadConfig({
    PORT: '3000',
    HOST: '127.0.0.1',
    DATA_DIR: '/var/lib/te',
    LOG_LEVEL: 'debug',
    TRAIN_CONCURRENCY: '4',
    BODY_LIMIT_BYTES: '4096',
    MAX_BATCH: '10',
    MAX_TRIPLETS_PER_REQUEST: '11',
    MAX_TRIPLETS_PER_DATASET: '12',
    MAX_DIMENSION: '13',
    MAX_OUTPUT_DIMENSION: '14',
    MAX_QUEUED_JOBS: '15',
    MAX_ITERATIONS: '16',
    MAX_DISTANCE_PAIRS: '17',
    UPLOAD_LIMIT_BYTES: '2048',
    MAX_SAMPLES_PER_DATASET: '18',
    INDEX_TRIPLETS_MEMORY_MB: '19',
    EVALUATION_MEMORY_MB: '20',
    EVALUATION_MAX_WORK: '21',
    EVALUATION_CONCURRENCY: '3',
    JOB_MEMORY_BUDGET_MB: '512',
    REPLY_BYTES_LIMIT: '1048576',
    MODEL_CACHE_BYTES: '0',
    GALLERY_MAX_ITEMS: '22',
    GALLERY_ITEMS_PER_REQUEST: '23',
    GALLERY_CACHE_BYTES: '24',
    GALLERY_MAX_QUERIES: '25',
    GALLERY_SEARCH_MAX_WORK: '26',
    DISTANCES_MAX_WORK: '27',
  });
  t.match(c, { port: 3000, host: '127.0.0.1', dataDir: '/var/lib/te', logLevel: 'debug', trainConcurrency: 4 });
  t.same(c.limits, {
    bodyLimit: 4096,
    uploadLimit: 2048,
    maxBatch: 10,
    maxTripletsPerRequest: 11,
    maxTripletsPerDataset: 12,
    maxDimension: 13,
    maxOutputDimension: 14,
    maxQueuedJobs: 15,
    maxIterations: 16,
    maxDistancePairs: 17,
    distancesMaxWork: 27,
    maxSamplesPerDataset: 18,
    indexTripletsBytes: 19 * 2 ** 20,
    evaluationBytes: 20 * 2 ** 20,
    evaluationMaxWork: 21,
    evaluationConcurrency: 3,
    jobMemoryBudgetMb: 512,
    replyBytesLimit: 1048576,
    modelCacheBytes: 0,
    galleryMaxItems: 22,
    galleryItemsPerRequest: 23,
    galleryCacheBytes: 24,
    galleryMaxQueries: 25,
    gallerySearchMaxWork: 26,
  });
  t.equal(loadConfig({ DATA_DIR: 'rel/dir' }).dataDir, path.resolve('rel/dir'));
  t.equal(loadConfig({ PORT: ' 81 ' }).port, 81, 'surrounding spaces are fine');
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    t.equal(loadConfig({ LOG_LEVEL: level }).logLevel, level);
});

/** The error loadConfig throws for env, or undefined. */
function configError(env: Record<string, string>): unknown {
  try {
    loadConfig(env);
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('every bad variable is named in one ConfigError', async (t) => {
  const err = configError({
    PORT: 'abc',
    TRAIN_CONCURRENCY: '0',
    LOG_LEVEL: 'verbose',
    MAX_BATCH: '-5',
    BODY_LIMIT_BYTES: '1.5',
  });
  t.type(err, ConfigError);
  const msg = (err as Error).message;
  for (const name of ['PORT', 'TRAIN_CONCURRENCY', 'LOG_LEVEL', 'MAX_BATCH', 'BODY_LIMIT_BYTES'])
    t.match(msg, name, `names ${name}`);
  t.match(msg, '"abc"');
  t.match(msg, '"verbose"');
  t.notMatch(msg, 'MAX_DIMENSION', 'names only the bad ones');

  t.type(configError({ PORT: '65536' }), ConfigError, "{ PORT: '65536' }");
  t.type(configError({ PORT: '-1' }), ConfigError, "{ PORT: '-1' }");
  t.type(configError({ PORT: '80x' }), ConfigError, "{ PORT: '80x' }");
  t.type(configError({ TRAIN_CONCURRENCY: '65' }), ConfigError, "{ TRAIN_CONCURRENCY: '65' }");
  t.type(configError({ MAX_DIMENSION: '0' }), ConfigError, "{ MAX_DIMENSION: '0' }");
  t.match((configError({ BODY_LIMIT_BYTES: '100' }) as Error)?.message, /BODY_LIMIT_BYTES/);
  t.match((configError({ LOG_LEVEL: 'INFO' }) as Error)?.message, /LOG_LEVEL/);
  t.match((configError({ LOG_LEVEL: 'warning' }) as Error)?.message, /LOG_LEVEL/);
  t.match(
    (configError({ TRIPLET_WIDE_KERNELS: 'yes' }) as Error)?.message,
    /TRIPLET_WIDE_KERNELS must be auto, on or off/,
  );
  t.match((configError({ TRIPLET_KERNELS: 'gpu' }) as Error)?.message, /TRIPLET_KERNELS/);
  t.match((configError({ JOB_SPARE_WORKER: 'yes' }) as Error)?.message, /JOB_SPARE_WORKER must be on or off/);
  t.equal(loadConfig({}).jobSpareWorker, true, 'a spare training worker by default');
  t.equal(loadConfig({ JOB_SPARE_WORKER: 'off' }).jobSpareWorker, false);
  t.doesNotThrow(() => loadConfig({ PORT: '0', TRAIN_CONCURRENCY: '64' }), 'the bounds themselves are allowed');
});

t.test('makeConfig overrides field by field', async (t) => {
  const c = makeConfig({ port: 1234, limits: { maxBatch: 7 } });
  t.equal(c.port, 1234);
  t.equal(c.limits.maxBatch, 7);
  t.equal(c.limits.maxDimension, DEFAULT_LIMITS.maxDimension, 'other limits keep their defaults');
});

t.test('heavy-work budgets: bad values are named', async (t) => {
  const err = configError({
    INDEX_TRIPLETS_MEMORY_MB: '0',
    EVALUATION_MEMORY_MB: '1.5',
    EVALUATION_MAX_WORK: 'lots',
    EVALUATION_CONCURRENCY: '65',
  }) as Error;
  t.ok(err instanceof ConfigError);
  for (const name of [
    'INDEX_TRIPLETS_MEMORY_MB',
    'EVALUATION_MEMORY_MB',
    'EVALUATION_MAX_WORK',
    'EVALUATION_CONCURRENCY',
  ])
    t.match(err.message, name);
});

t.test('job leases and checkpoints: defaults, 0 turns checkpoints off, bad values named', async (t) => {
  const c = loadConfig({});
  t.equal(c.jobLeaseMs, 30_000);
  t.equal(c.checkpointIntervalMs, 10_000);
  const set = loadConfig({ JOB_LEASE_MS: '5000', CHECKPOINT_INTERVAL_MS: '0' });
  t.equal(set.jobLeaseMs, 5000);
  t.equal(set.checkpointIntervalMs, 0, '0 = no checkpoints');
  const err = configError({ JOB_LEASE_MS: '100', CHECKPOINT_INTERVAL_MS: '-1' }) as Error;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /JOB_LEASE_MS must be between 300 and 86400000, got 100/);
  t.match(err.message, /CHECKPOINT_INTERVAL_MS must be a whole number, got "-1"/);
  t.match((configError({ JOB_LEASE_MS: '30s' }) as Error).message, /JOB_LEASE_MS must be a whole number/);
});
