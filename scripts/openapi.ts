// Writes openapi/openapi.json from the route schemas (the single source of truth).
// `--check` exits 1 when the committed file is stale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { makeConfig } from '../src/config.js';

export async function generateSpec(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'triplet-embed-openapi-'));
  try {
    const app = await buildApp(makeConfig({ dataDir }), { logger: false, runJobs: false });
    await app.ready();
    const spec = app.swagger();
    await app.close();
    return JSON.stringify(spec, null, 2) + '\n';
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export const SPEC_PATH = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const spec = await generateSpec();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(SPEC_PATH) ? fs.readFileSync(SPEC_PATH, 'utf8') : '';
    if (current !== spec) {
      console.error('openapi/openapi.json is stale: run `npm run openapi` and commit it');
      process.exit(1);
    }
    console.log('openapi/openapi.json is up to date');
  } else {
    fs.mkdirSync(path.dirname(SPEC_PATH), { recursive: true });
    fs.writeFileSync(SPEC_PATH, spec);
    console.log(`wrote ${SPEC_PATH}`);
  }
}
