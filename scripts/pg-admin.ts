// One statement on a PostgreSQL server, on a connection of its own: CREATE and DROP DATABASE
// cannot run inside a pool's transaction. Shared by the tests, the crash test and the benchmarks.
import pg from 'pg';

export async function pgAdmin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
