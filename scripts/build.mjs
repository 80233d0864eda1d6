#!/usr/bin/env node
// Incremental build for `npm start` and `npm test`'s pretest: runs only the steps whose inputs
// changed since the last build, so a start on an already built tree skips straight to the server.
// The pretest builds everything before tap starts, so the test files that build (server
// processes, the console; tests call this script, never `npm run build`) find nothing left to do
// and never write dist/ at the same time. `npm run build` stays the full build (the Dockerfile and scripts/image-steps.sh
// run it on a fresh copy, which has no scripts/ folder).
//
//   1. AssemblyScript → src/math/kernels/wasm/kernels.wasm, when the wasm is missing, or when the
//      sha256 of its sources (src/math/kernels/wasm/*.ts and the asc command, package.json's
//      build:wasm script) differs from the stamp's and the wasm is not newer than all of them.
//   2. tsc -p tsconfig.build.json --incremental (tsbuildinfo under dist/), when dist/src/server.js
//      is missing or any file under src/, tsconfig.json or tsconfig.build.json was added, removed
//      or has a different mtime or size than at the last build. tsc's own incremental check
//      costs ~3.5 s even when nothing changed, hence the stat check in front of it.
//   3. copy kernels.wasm to dist/src/math/kernels/wasm/ when the copy differs.
//   4. the web console (web/build.mjs: esbuild → dist/console), when dist/console/app.js is
//      missing or any file under web/, or package-lock.json (uPlot's version), changed.
//
// The stamp, dist/.build-stamp.json, goes away with dist/, so `rm -rf dist` means a full build.
// Flags: --wasm (step 1 only), --force (run every step), --quiet.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const quiet = args.has('--quiet');
const wasmOnly = args.has('--wasm');

const WASM_DIR = 'src/math/kernels/wasm';
const WASM = `${WASM_DIR}/kernels.wasm`;
const DIST_WASM = `dist/${WASM}`;
const STAMP = 'dist/.build-stamp.json';
const TSBUILDINFO = 'dist/.tsbuildinfo';
const TS_INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json'];
const WEB_INPUTS = ['web', 'package-lock.json'];

const abs = (p) => path.join(root, p);
const log = (msg) => quiet || console.error(`build: ${msg}`);
const stat = (p) => {
  try {
    return fs.statSync(abs(p));
  } catch {
    return undefined;
  }
};

function readStamp() {
  try {
    return JSON.parse(fs.readFileSync(abs(STAMP), 'utf8'));
  } catch {
    return {};
  }
}

function writeStamp(stamp) {
  fs.mkdirSync(path.dirname(abs(STAMP)), { recursive: true });
  fs.writeFileSync(abs(STAMP), `${JSON.stringify(stamp, null, 1)}\n`);
}

function run(cmd, cmdArgs) {
  const t0 = performance.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${cmdArgs.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
  log(`${path.basename(cmd)} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const bin = (name) => abs(`node_modules/.bin/${name}`);

// Every regular file under the given paths but the built wasm, as relative path → "mtimeMs:size".
function snapshot(paths) {
  const out = {};
  const walk = (rel) => {
    const s = stat(rel);
    if (!s) return;
    if (s.isDirectory()) {
      for (const name of fs.readdirSync(abs(rel)).sort()) walk(`${rel}/${name}`);
    } else if (s.isFile() && !rel.endsWith('.wasm')) {
      out[rel] = `${s.mtimeMs}:${s.size}`;
    }
  };
  for (const p of paths) walk(p);
  return out;
}

const sameSnapshot = (a, b) => {
  if (!a || !b) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

const stamp = readStamp();

// 1. The AssemblyScript kernels.
function buildWasm() {
  const pkg = JSON.parse(fs.readFileSync(abs('package.json'), 'utf8'));
  const ascCommand = pkg.scripts['build:wasm'];
  const sources = fs
    .readdirSync(abs(WASM_DIR))
    .filter((f) => f.endsWith('.ts') || f.endsWith('.json'))
    .sort()
    .map((f) => `${WASM_DIR}/${f}`);
  const hash = createHash('sha256').update(ascCommand);
  for (const f of sources) hash.update(`\0${f}\0`).update(fs.readFileSync(abs(f)));
  const digest = hash.digest('hex');

  const wasm = stat(WASM);
  const newest = Math.max(...sources.map((f) => stat(f).mtimeMs));
  const upToDate = wasm && (stamp.wasm === digest || (stamp.wasm === undefined && wasm.mtimeMs > newest));
  if (upToDate && !force) {
    log(`${WASM} is up to date`);
  } else {
    log(wasm ? `${WASM}: sources changed, rebuilding` : `${WASM} is missing, building`);
    // The same command as `npm run build:wasm`, without npm's start-up.
    const argv = ascCommand.split(/\s+/);
    if (argv[0] !== 'asc') throw new Error(`build:wasm does not start with asc: ${ascCommand}`);
    run(bin('asc'), argv.slice(1));
  }
  stamp.wasm = digest;
}

// 2. The TypeScript.
function buildTs() {
  const before = snapshot(TS_INPUTS);
  if (!force && stat('dist/src/server.js') && stat(TSBUILDINFO) && sameSnapshot(stamp.ts, before)) {
    log('dist/ is up to date');
    return;
  }
  log('compiling (tsc --incremental)');
  run(bin('tsc'), ['-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', TSBUILDINFO]);
  // The inputs as they were when tsc started: a file saved during the compile differs next time.
  stamp.ts = before;
}

// 3. The wasm next to the compiled loader.
function copyWasm() {
  const from = fs.readFileSync(abs(WASM));
  const to = stat(DIST_WASM) ? fs.readFileSync(abs(DIST_WASM)) : undefined;
  if (to && from.equals(to)) return;
  fs.mkdirSync(path.dirname(abs(DIST_WASM)), { recursive: true });
  fs.copyFileSync(abs(WASM), abs(DIST_WASM));
  log(`copied ${WASM} to dist/`);
}

// 4. The web console's bundle.
function buildConsole() {
  const before = snapshot(WEB_INPUTS);
  if (!force && stat('dist/console/app.js') && sameSnapshot(stamp.web, before)) {
    log('dist/console is up to date');
    return;
  }
  log('bundling the console (web/build.mjs)');
  run(process.execPath, ['web/build.mjs', '--quiet']);
  stamp.web = before;
}

const t0 = performance.now();
buildWasm();
if (!wasmOnly) {
  buildTs();
  copyWasm();
  buildConsole();
}
writeStamp(stamp);
log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
