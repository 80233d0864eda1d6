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
  /** estimated peak memory of all running training jobs together, in MiB (src/domain/costs.ts) */
  jobMemoryBudgetMb: number;
  /** bytes of one /embed or /distances reply */
  replyBytesLimit: number;
  /** bytes of loaded models kept in the model cache (W and its packed copy) */
  modelCacheBytes: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** DATABASE_URL: PostgreSQL instead of the SQLite file under dataDir; undefined for SQLite */
  databaseUrl: string | undefined;
  logLevel: string;
  trainConcurrency: number;
  /** JS heap cap of each training worker thread, in MiB */
  jobHeapLimitMb: number;
  /** Bearer keys; empty = no authentication */
  apiKeys: string[];
  /** CORS allowed origins; empty = CORS off, ['*'] = any origin */
  corsOrigins: string[];
  /** load shedding: over these, requests get 503 with Retry-After (0 disables a check) */
  overload: { maxEventLoopDelayMs: number; maxEventLoopUtilization: number };
  /** how the kernels run */
  compute: ComputeSettings;
  limits: Limits;
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
  // With the cache and the replies below, and the server itself, these fit a 2 GB container.
  jobMemoryBudgetMb: 1024,
  replyBytesLimit: 64 * 1024 * 1024,
  modelCacheBytes: 256 * 1024 * 1024,
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
    trainConcurrency: intVar(env, 'TRAIN_CONCURRENCY', 1, 1, 64, errors),
    jobHeapLimitMb: intVar(env, 'JOB_HEAP_LIMIT_MB', 4096, 16, 1_048_576, errors),
    apiKeys: apiKeys(env, errors),
    corsOrigins: list(env.CORS_ORIGINS),
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
      jobMemoryBudgetMb: intVar(env, 'JOB_MEMORY_BUDGET_MB', d.jobMemoryBudgetMb, 64, 1_048_576, errors),
      replyBytesLimit: intVar(env, 'REPLY_BYTES_LIMIT', d.replyBytesLimit, 65_536, 2 ** 40, errors),
      modelCacheBytes: intVar(env, 'MODEL_CACHE_BYTES', d.modelCacheBytes, 0, 2 ** 44, errors),
    },
  };
  if (errors.length > 0) throw new ConfigError(`invalid configuration:\n  - ${errors.join('\n  - ')}`);
  return config;
}

/** A config for tests and embedding: defaults, overridden field by field. */
export function makeConfig(
  overrides: Partial<Omit<Config, 'limits' | 'compute'>> & {
    limits?: Partial<Limits>;
    compute?: Partial<ComputeSettings>;
  } = {},
): Config {
  const base = loadConfig({});
  return {
    ...base,
    ...overrides,
    limits: { ...base.limits, ...overrides.limits },
    compute: { ...base.compute, ...overrides.compute },
  };
}
