// Copies a SQLite database of this service into an empty PostgreSQL database, ids and all, in one
// transaction, then verifies it: row counts per table, every dataset's vector bytes (SHA-256 over
// its chunks in order) and every model's weights against its stored checksum.
//
//   npx tsx scripts/sqlite-to-postgres.ts --from data/triplet-embed.sqlite --to postgres://…
//
// Stop the service first (or copy from a backup): the copy reads one consistent snapshot, and the
// target must hold no datasets, jobs or models yet. Staged chunks of unfinished uploads are left out.
import { parseArgs } from 'node:util';
import { copySqliteToPostgres } from '../src/tools/sqlite-to-postgres.js';

const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } } });
if (!values.from || !values.to) {
  console.error('usage: tsx scripts/sqlite-to-postgres.ts --from <file.sqlite> --to postgres://…');
  process.exit(2);
}
try {
  const report = await copySqliteToPostgres(values.from, values.to);
  console.log(JSON.stringify(report));
} catch (e) {
  console.error(`sqlite-to-postgres: ${(e as Error).message}`);
  process.exit(1);
}
