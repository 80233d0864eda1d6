// A PostgreSQL server for tests: whether one answers (TEST_DATABASE_URL or DATABASE_URL), and a new
// empty database on it per test, dropped afterwards. Tests that need one skip without it, and fail
// instead under CI=true.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { pgAdmin } from '../../scripts/pg-admin.js';

export const baseUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || '';
export const inCi = process.env.CI === 'true';

/** Why PostgreSQL tests cannot run here, or null when a server answers. */
export async function unavailable(): Promise<string | null> {
  if (!baseUrl) return 'no TEST_DATABASE_URL (start a server with: eval "$(scripts/pg-test-cluster.sh start)")';
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `TEST_DATABASE_URL does not answer: ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A new empty database, dropped (with whatever is still connected to it) after the test. */
export async function freshDatabase(t: Test): Promise<string> {
  const name = `te_${randomBytes(6).toString('hex')}`;
  await pgAdmin(baseUrl, `CREATE DATABASE ${name}`);
  t.teardown(() => pgAdmin(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return withDatabase(baseUrl, name);
}
