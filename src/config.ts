// Environment → typed, validated Config. Every bad variable is named in one start-up error.
import fs from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import type { ComputeSettings } from './compute/index.js';

export interface Limits {
  /** JSON request bodies (bytes) */
  bodyLimit: number;
  /** binary and NDJSON uploads (bytes) */
  uploadLimit: number;
  /** vectors per /embed request, rows of a or b per /distances request */
  maxBatch: number;
  /** triplets in one JSON upload or inline training set */
  maxTripletsPerRequest: number;
  /** triplets stored in one dataset */
  maxTripletsPerDataset: number;
  /** labelled samples stored in one dataset */
  maxSamplesPerDataset: number;
  /** vector dimension of a dataset or model */
  maxDimension: number;
  /** outputDimension of a model */
  maxOutputDimension: number;
  /** jobs waiting in the queue */
  maxQueuedJobs: number;
  /** training iterations per job */
  maxIterations: number;
  /** distances computed by one /distances request (na × nb) */
  maxDistancePairs: number;
  /** multiply-adds of one /distances request: embedding its rows, (na + nb)·k·d, and its pairs, na·nb·k */
  distancesMaxWork: number;
  /** peak bytes of one indexTriplets request: 4·d·(n + 3m), samples read plus rows built */
  indexTripletsBytes: number;
  /** peak bytes of one evaluation (docs/operations.md, Budgets) */
  evaluationBytes: number;
  /** multiply-adds of one evaluation: k·d·(3m + n) + n²·(k + 8) */
  evaluationMaxWork: number;
  /** evaluations running at once; more get 503 with Retry-After */
  evaluationConcurrency: number;
  /** estimated peak memory of all running training jobs together, in MiB (src/domain/costs.ts) */
  jobMemoryBudgetMb: number;
  /** bytes of one /embed or /distances reply */
  replyBytesLimit: number;
  /** bytes of loaded models kept in the model cache (W and its packed copy) */
  modelCacheBytes: number;
  /** items one gallery may hold (GALLERY_MAX_ITEMS) */
  galleryMaxItems: number;
  /** items in one gallery upload request (GALLERY_ITEMS_PER_REQUEST) */
  galleryItemsPerRequest: number;
  /** bytes of gallery embeddings kept in memory for search (src/domain/costs.ts galleryCacheBytes) */
  galleryCacheBytes: number;
  /** queries in one gallery search request */
  galleryMaxQueries: number;
  /** multiply-adds of one gallery search, queries × items × embedding dimension */
  gallerySearchMaxWork: number;
}

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** DATABASE_URL: PostgreSQL instead of the SQLite file under dataDir; undefined for SQLite */
  databaseUrl: string | undefined;
  logLevel: string;
  /** ROLE: `all` serves and trains, `api` serves and queues, `worker` trains (and answers health, metrics) */
  role: Role;
  trainConcurrency: number;
  /** JS heap cap of each training worker thread, in MiB */
  jobHeapLimitMb: number;
  /** JOB_SPARE_WORKER: a training worker started ahead of the next small job (on by default) */
  jobSpareWorker: boolean;
  /**
   * JOB_LEASE_MS: how long a claimed job stays this replica's without a renewal (renewed every third
   * of it); a replica silent for longer loses its jobs to the others
   */
  jobLeaseMs: number;
  /** CHECKPOINT_INTERVAL_MS: time between a running job's checkpoints (worker clock); 0 = none */
  checkpointIntervalMs: number;
  /** REINDEX_BATCH_ITEMS: gallery items a reindex job reads, embeds and writes at a time */
  reindexBatchItems: number;
  /** Bearer keys; empty = no authentication */
  apiKeys: string[];
  /** IDEMPOTENCY_TTL_HOURS: how long an upload's Idempotency-Key is kept (its retries get the first reply), in ms */
  idempotencyTtlMs: number;
  /** ERASE_VACUUM (PostgreSQL): `full` (default) or `plain` VACUUM after an erasure or a whole dataset/gallery delete */
  eraseVacuum: 'full' | 'plain';
  /** CORS allowed origins; empty = CORS off, ['*'] = any origin */
  corsOrigins: string[];
  /** ALLOWED_HOSTS: the Host names requests may carry (src/plugins/allowed-hosts.ts); empty = any */
  allowedHosts: string[];
  /** load shedding: over these, requests get 503 with Retry-After (0 disables a check) */
  overload: { maxEventLoopDelayMs: number; maxEventLoopUtilization: number };
  /** how the kernels run */
  compute: ComputeSettings;
  limits: Limits;
  /** connection and body timeouts, the connection cap, the staged-bytes budget (src/http/connections.ts) */
  connections: ConnectionSettings;
}

export interface ConnectionSettings {
  /** HEADERS_TIMEOUT_MS: a request's headers must have arrived within this */
  headersTimeoutMs: number;
  /** BODY_IDLE_TIMEOUT_MS: a body that sends nothing for this long is ended with 408 */
  bodyIdleTimeoutMs: number;
  /** REQUEST_TIMEOUT_MS: the whole request (headers and body) must have arrived within this */
  requestTimeoutMs: number;
  /** KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection is closed after this */
  keepAliveTimeoutMs: number;
  /** MAX_CONNECTIONS: open connections served; the next ones get 503 and are closed */
  maxConnections: number;
  /** STAGED_BYTES_LIMIT: binary request bytes held across all requests before 503 STAGING_FULL */
  stagedBytesLimit: number;
  /** JSON_BODY_LIMIT_BYTES: JSON bodies are parsed on the event loop; larger ones get 413 (use binary or NDJSON) */
  jsonBodyLimit: number;
}

/** Descriptors kept back from MAX_CONNECTIONS' default: database files, worker threads, pipes. */
const RESERVED_FILES = 64;

/** The soft `ulimit -n` of this process, or undefined where /proc does not say. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** MAX_CONNECTIONS' default: 1000, but always a quarter (at least 64) below the soft `ulimit -n`. */
export function defaultMaxConnections(nofile = openFilesLimit()): number {
  if (nofile === undefined) return 1000;
  return Math.max(1, Math.min(1000, nofile - Math.max(RESERVED_FILES, Math.floor(nofile / 4))));
}

export const DEFAULT_LIMITS: Limits = {
  bodyLimit: 16 * 1024 * 1024,
  uploadLimit: 1024 * 1024 * 1024,
  maxBatch: 4096,
  maxTripletsPerRequest: 100_000,
  maxTripletsPerDataset: 10_000_000,
  maxSamplesPerDataset: 10_000_000,
  maxDimension: 8192,
  maxOutputDimension: 4096,
  maxQueuedJobs: 100,
  maxIterations: 100_000,
  maxDistancePairs: 4_000_000,
  distancesMaxWork: 4e9,
  indexTripletsBytes: 256 * 1024 * 1024,
  evaluationBytes: 512 * 1024 * 1024,
  evaluationMaxWork: 20e9,
  evaluationConcurrency: 1,
  // With the cache and the replies below, and the server itself, these fit a 2 GB container.
  jobMemoryBudgetMb: 1024,
  replyBytesLimit: 64 * 1024 * 1024,
  modelCacheBytes: 256 * 1024 * 1024,
  galleryMaxItems: 1_000_000,
  galleryItemsPerRequest: 100_000,
  galleryCacheBytes: 1024 * 1024 * 1024,
  galleryMaxQueries: 1024,
  gallerySearchMaxWork: 4e9,
};

export const DEFAULT_CONNECTIONS: Omit<ConnectionSettings, 'maxConnections'> = {
  headersTimeoutMs: 10_000,
  bodyIdleTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  stagedBytesLimit: 256 * 1024 * 1024,
  jsonBodyLimit: 4 * 1024 * 1024,
};

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function intVar(env: Env, name: string, fallback: number, min: number, max: number, errors: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    errors.push(`${name} must be a whole number, got "${raw}"`);
    return fallback;
  }
  const n = Number(raw);
  if (n < min || n > max) errors.push(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const list = (raw: string | undefined) =>
  (raw ?? '')
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

function fraction(env: Env, name: string, fallback: number, errors: string[]): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < 0 || v > 1) {
    errors.push(`${name} must be a number from 0 to 1, got "${raw}"`);
    return fallback;
  }
  return v;
}

/** A size in MiB (a whole number from 1 to 1 TiB), returned in bytes. */
function mib(env: Env, name: string, fallbackBytes: number, errors: string[]): number {
  return intVar(env, name, fallbackBytes / 2 ** 20, 1, 2 ** 20, errors) * 2 ** 20;
}

/** One of a few words, case and surrounding blanks ignored; the first is the default. */
function choice<T extends string>(env: Env, name: string, values: readonly T[], errors: string[]): T {
  const v = (env[name] ?? '').trim().toLowerCase();
  if (v === '') return values[0];
  if ((values as readonly string[]).includes(v)) return v as T;
  errors.push(`${name} must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}, got "${env[name]}"`);
  return values[0];
}

/** DATABASE_URL: a postgres:// or postgresql:// URL, or unset (the embedded SQLite file). */
function databaseUrl(env: Env, errors: string[]): string | undefined {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return undefined;
  if (!/^postgres(ql)?:\/\/./.test(raw)) errors.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  return raw;
}

/** API_KEYS (comma-separated) and API_KEYS_FILE (one key a line or comma-separated, for Docker secrets). */
function apiKeys(env: Env, errors: string[]): string[] {
  const keys = list(env.API_KEYS);
  const file = env.API_KEYS_FILE?.trim();
  if (file) {
    try {
      keys.push(...list(fs.readFileSync(file, 'utf8')));
    } catch (e) {
      errors.push(`API_KEYS_FILE ${file} cannot be read: ${(e as Error).message}`);
    }
    if (keys.length === 0) errors.push(`API_KEYS_FILE ${file} holds no key`);
  }
  for (const k of keys) {
    if (k.length < 16) errors.push('API_KEYS: every key must be at least 16 characters long');
    if (/\s/.test(k)) errors.push('API_KEYS: keys cannot contain white space');
  }
  return [...new Set(keys)];
}

function connectionSettings(env: Env, errors: string[]): ConnectionSettings {
  const c = DEFAULT_CONNECTIONS;
  return {
    headersTimeoutMs: intVar(env, 'HEADERS_TIMEOUT_MS', c.headersTimeoutMs, 100, 3_600_000, errors),
    bodyIdleTimeoutMs: intVar(env, 'BODY_IDLE_TIMEOUT_MS', c.bodyIdleTimeoutMs, 100, 3_600_000, errors),
    requestTimeoutMs: intVar(env, 'REQUEST_TIMEOUT_MS', c.requestTimeoutMs, 100, 86_400_000, errors),
    keepAliveTimeoutMs: intVar(env, 'KEEP_ALIVE_TIMEOUT_MS', c.keepAliveTimeoutMs, 100, 3_600_000, errors),
    maxConnections: intVar(env, 'MAX_CONNECTIONS', defaultMaxConnections(), 1, 1_000_000, errors),
    stagedBytesLimit: intVar(env, 'STAGED_BYTES_LIMIT', c.stagedBytesLimit, 1024, 2 ** 40, errors),
    jsonBodyLimit: intVar(env, 'JSON_BODY_LIMIT_BYTES', c.jsonBodyLimit, 1024, 2 ** 31, errors),
  };
}

/** Reads the environment. Throws one ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): Config {
  const errors: string[] = [];
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel))
    errors.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const d = DEFAULT_LIMITS;
  const config: Config = {
    port: intVar(env, 'PORT', 8080, 0, 65535, errors),
    host: env.HOST?.trim() || '0.0.0.0',
    dataDir: path.resolve(env.DATA_DIR?.trim() || './data'),
    databaseUrl: databaseUrl(env, errors),
    logLevel,
    role: choice(env, 'ROLE', ROLES, errors),
    trainConcurrency: intVar(env, 'TRAIN_CONCURRENCY', 1, 1, 64, errors),
    jobHeapLimitMb: intVar(env, 'JOB_HEAP_LIMIT_MB', 4096, 16, 1_048_576, errors),
    jobSpareWorker: choice(env, 'JOB_SPARE_WORKER', ['on', 'off'] as const, errors) === 'on',
    jobLeaseMs: intVar(env, 'JOB_LEASE_MS', 30_000, 300, 86_400_000, errors),
    checkpointIntervalMs: intVar(env, 'CHECKPOINT_INTERVAL_MS', 10_000, 0, 86_400_000, errors),
    reindexBatchItems: intVar(env, 'REINDEX_BATCH_ITEMS', 1024, 1, 65_536, errors),
    apiKeys: apiKeys(env, errors),
    idempotencyTtlMs: intVar(env, 'IDEMPOTENCY_TTL_HOURS', 24, 1, 8760, errors) * 3_600_000,
    eraseVacuum: choice(env, 'ERASE_VACUUM', ['full', 'plain'] as const, errors),
    corsOrigins: list(env.CORS_ORIGINS),
    allowedHosts: list(env.ALLOWED_HOSTS),
    overload: {
      maxEventLoopDelayMs: intVar(env, 'MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 600_000, errors),
      maxEventLoopUtilization: fraction(env, 'MAX_EVENT_LOOP_UTILIZATION', 0, errors),
    },
    compute: {
      kernels: choice(env, 'TRIPLET_KERNELS', ['auto', 'js', 'wasm'] as const, errors),
      threads: intVar(env, 'TRIPLET_THREADS', Math.max(1, availableParallelism()), 1, 256, errors),
      embedHelpers: intVar(env, 'TRIPLET_EMBED_HELPERS', Math.max(1, availableParallelism()), 0, 64, errors),
      wide: choice(env, 'TRIPLET_WIDE_KERNELS', ['auto', 'on', 'off'] as const, errors),
    },
    limits: {
      bodyLimit: intVar(env, 'BODY_LIMIT_BYTES', d.bodyLimit, 1024, 2 ** 31, errors),
      uploadLimit: intVar(env, 'UPLOAD_LIMIT_BYTES', d.uploadLimit, 1024, 2 ** 40, errors),
      maxBatch: intVar(env, 'MAX_BATCH', d.maxBatch, 1, 10_000_000, errors),
      maxTripletsPerRequest: intVar(env, 'MAX_TRIPLETS_PER_REQUEST', d.maxTripletsPerRequest, 1, 1e9, errors),
      maxTripletsPerDataset: intVar(env, 'MAX_TRIPLETS_PER_DATASET', d.maxTripletsPerDataset, 1, 1e12, errors),
      maxSamplesPerDataset: intVar(env, 'MAX_SAMPLES_PER_DATASET', d.maxSamplesPerDataset, 1, 1e12, errors),
      maxDimension: intVar(env, 'MAX_DIMENSION', d.maxDimension, 1, 1_000_000, errors),
      maxOutputDimension: intVar(env, 'MAX_OUTPUT_DIMENSION', d.maxOutputDimension, 1, 1_000_000, errors),
      maxQueuedJobs: intVar(env, 'MAX_QUEUED_JOBS', d.maxQueuedJobs, 1, 1_000_000, errors),
      maxIterations: intVar(env, 'MAX_ITERATIONS', d.maxIterations, 1, 1e9, errors),
      maxDistancePairs: intVar(env, 'MAX_DISTANCE_PAIRS', d.maxDistancePairs, 1, 1e10, errors),
      distancesMaxWork: intVar(env, 'DISTANCES_MAX_WORK', d.distancesMaxWork, 1, 1e15, errors),
      indexTripletsBytes: mib(env, 'INDEX_TRIPLETS_MEMORY_MB', d.indexTripletsBytes, errors),
      evaluationBytes: mib(env, 'EVALUATION_MEMORY_MB', d.evaluationBytes, errors),
      evaluationMaxWork: intVar(env, 'EVALUATION_MAX_WORK', d.evaluationMaxWork, 1, 1e15, errors),
      evaluationConcurrency: intVar(env, 'EVALUATION_CONCURRENCY', d.evaluationConcurrency, 1, 64, errors),
      jobMemoryBudgetMb: intVar(env, 'JOB_MEMORY_BUDGET_MB', d.jobMemoryBudgetMb, 64, 1_048_576, errors),
      replyBytesLimit: intVar(env, 'REPLY_BYTES_LIMIT', d.replyBytesLimit, 65_536, 2 ** 40, errors),
      modelCacheBytes: intVar(env, 'MODEL_CACHE_BYTES', d.modelCacheBytes, 0, 2 ** 44, errors),
      galleryMaxItems: intVar(env, 'GALLERY_MAX_ITEMS', d.galleryMaxItems, 1, 1e9, errors),
      galleryItemsPerRequest: intVar(env, 'GALLERY_ITEMS_PER_REQUEST', d.galleryItemsPerRequest, 1, 1e9, errors),
      galleryCacheBytes: intVar(env, 'GALLERY_CACHE_BYTES', d.galleryCacheBytes, 0, 2 ** 44, errors),
      galleryMaxQueries: intVar(env, 'GALLERY_MAX_QUERIES', d.galleryMaxQueries, 1, 1_000_000, errors),
      gallerySearchMaxWork: intVar(env, 'GALLERY_SEARCH_MAX_WORK', d.gallerySearchMaxWork, 1, 1e15, errors),
    },
    connections: connectionSettings(env, errors),
  };
  const c = config.connections;
  if (c.headersTimeoutMs > c.requestTimeoutMs)
    errors.push(
      `HEADERS_TIMEOUT_MS (${c.headersTimeoutMs}) must not be over REQUEST_TIMEOUT_MS (${c.requestTimeoutMs})`,
    );
  if (errors.length > 0) throw new ConfigError(`invalid configuration:\n  - ${errors.join('\n  - ')}`);
  return config;
}

/** A config for tests and embedding: defaults, overridden field by field. */
export function makeConfig(
  overrides: Partial<Omit<Config, 'limits' | 'compute' | 'connections'>> & {
    limits?: Partial<Limits>;
    compute?: Partial<ComputeSettings>;
    connections?: Partial<ConnectionSettings>;
  } = {},
): Config {
  const base = loadConfig({});
  return {
    ...base,
    ...overrides,
    limits: { ...base.limits, ...overrides.limits },
    compute: { ...base.compute, ...overrides.compute },
    connections: { ...base.connections, ...overrides.connections },
  };
}
