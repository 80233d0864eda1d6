// The layering rules, checked on the sources: the store knows nothing of HTTP, routes see services
// only, the worker computes without a database or the environment, and every environment variable
// is read in config.ts. A new import that breaks a rule fails here, not in review.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'wasm' ? [] : files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a file imports (static and dynamic), resolved to a path relative to src/ when local. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1] ?? m[2]);
  return specs.map((s) =>
    s.startsWith('.') ? path.relative(SRC, path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts') : s,
  );
}

const rel = (f: string) => path.relative(SRC, f);
const all = files(SRC);

t.test('src/store imports nothing from HTTP or errors.ts', async (t) => {
  for (const f of all.filter((f) => rel(f).startsWith('store/'))) {
    for (const i of imports(f)) {
      t.notOk(
        /^(fastify|@fastify\/)/.test(i) || i === 'errors.ts' || i.startsWith('http/') || i.startsWith('routes/'),
        `${rel(f)} imports ${i}`,
      );
    }
  }
});

t.test('routes import neither the store nor the kernels', async (t) => {
  for (const f of all.filter((f) => rel(f).startsWith('routes/'))) {
    for (const i of imports(f))
      t.notOk(i.startsWith('store/') || i.startsWith('math/kernels/'), `${rel(f)} imports ${i}`);
  }
});

t.test('the worker imports only src/math, src/compute and its messages', async (t) => {
  const worker = path.join(SRC, 'jobs/worker.ts');
  for (const i of imports(worker)) {
    const ok = i.startsWith('node:') || i.startsWith('math/') || i.startsWith('compute/') || i === 'jobs/messages.ts';
    t.ok(ok, `worker.ts imports ${i}`);
  }
});

t.test('the SQLite thread imports only the store and the domain', async (t) => {
  const entry = path.join(SRC, 'store/sqlite-worker.ts');
  for (const i of imports(entry)) {
    const ok = i.startsWith('node:') || i.startsWith('store/') || i.startsWith('domain/');
    t.ok(ok, `sqlite-worker.ts imports ${i}`);
  }
});

t.test('the HNSW thread computes only: src/math, src/search and hnswlib-node', async (t) => {
  const entry = path.join(SRC, 'search/hnsw-worker.ts');
  for (const i of imports(entry)) {
    const ok =
      i === 'node:worker_threads' ||
      i === 'node:module' ||
      i.startsWith('math/') ||
      i.startsWith('search/') ||
      i === 'hnswlib-node';
    t.ok(ok, `hnsw-worker.ts imports ${i}`);
  }
});

/** Packages the pure core may use: numerics only. */
const PURE_PACKAGES = new Set(['ml-matrix']);

t.test('the math core does no I/O: no Node modules, nothing of the service', async (t) => {
  for (const f of all.filter((f) => rel(f).startsWith('math/'))) {
    for (const i of imports(f)) t.ok(i.startsWith('math/') || PURE_PACKAGES.has(i), `${rel(f)} imports ${i}`);
  }
});

t.test('the environment is read in config.ts only', async (t) => {
  for (const f of all.filter((f) => rel(f) !== 'config.ts')) {
    t.notOk(/process\.env\b/.test(fs.readFileSync(f, 'utf8')), `${rel(f)} reads process.env`);
  }
});

t.test('the margin default is written once', async (t) => {
  const hits = all.filter((f) => /DEFAULT_MARGIN\s*=/.test(fs.readFileSync(f, 'utf8')));
  t.same(hits.map(rel), ['math/defaults.ts']);
});

t.test('tests build with the incremental script, never the full `npm run build`', async (t) => {
  // test files run in parallel: a full build rewrites dist/ while another file's server loads it
  const TEST = fileURLToPath(new URL('./', import.meta.url));
  const hits = files(TEST).filter((f) => /['"]run['"],\s*['"]build['"]/.test(fs.readFileSync(f, 'utf8')));
  t.same(
    hits.map((f) => path.relative(TEST, f)),
    [],
    'spawning npm run build',
  );
});
