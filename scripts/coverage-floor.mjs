#!/usr/bin/env node
// Coverage of src/ from the last tap run, checked against the floor. Run it after `npm test`
// (or any `npx tap ...`); .ci/run does, right after the suite.
//
//   node scripts/coverage-floor.mjs            summary + floor check (exit 1 below the floor)
//   node scripts/coverage-floor.mjs text html  extra istanbul reports (per-file table, HTML)
//   npm run coverage                           the same as the first line
//
// The floor: package.json "tap" → "lines", "statements", "functions", "branches" (percent). Those
// are tap's own threshold options; tap leaves them unenforced because of
// "allow-incomplete-coverage": true (so that `npx tap one.test.ts` does not fail on coverage), and
// this script enforces them on the whole suite. Raise them when coverage rises.
//
// How coverage is recorded: tap runs every test file with NODE_V8_COVERAGE and keeps the V8
// coverage of the files that "coverage-map" (scripts/coverage-map.mjs) names, i.e. src/**/*.ts,
// in .tap/coverage/. Node saves each module's source map next to it; tsx compiles TypeScript to
// whitespace-minified JavaScript with an inline source map, and c8 maps V8's byte ranges back to
// the .ts lines through it. One repair is needed first: tsx's maps carry `sourcesContent: [null]`,
// which v8-to-istanbul (c8 12 / v8-to-istanbul 9.3) takes as the original source text, so every
// file would come out as the one line "null", 100% covered. Without sourcesContent it reads the
// .ts file from disk, as intended. tap's own end-of-run report would show that bogus 100%, so
// package.json sets "coverage-report": ["none"] and the report is made here, after the repair.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coverageDir = path.join(root, '.tap/coverage');
const summaryFile = path.join(root, '.tap/report/coverage-summary.json');
const METRICS = ['lines', 'statements', 'functions', 'branches'];

const tapConfig = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).tap ?? {};
const floor = Object.fromEntries(METRICS.map((m) => [m, Number(tapConfig[m] ?? 0)]));

// 1. Repair the source maps tsx left in the raw V8 coverage.
let files = [];
try {
  files = fs.readdirSync(coverageDir).filter((f) => f.endsWith('.json'));
} catch {
  // no coverage folder: reported below
}
if (files.length === 0) {
  console.error(`coverage-floor: no coverage in ${path.relative(root, coverageDir)}/ (run npm test first)`);
  process.exit(1);
}
let repaired = 0;
// A process (or thread) killed while it wrote its coverage leaves a cut-off file: the tests kill
// servers with SIGKILL on purpose. Such a file is set aside (c8 would stop on it) and counted;
// more than a few means something else is wrong.
const unreadable = [];
for (const f of files) {
  const file = path.join(coverageDir, f);
  let cov;
  try {
    cov = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    fs.renameSync(file, `${file}.unreadable`);
    unreadable.push(f);
    continue;
  }
  let changed = false;
  for (const entry of Object.values(cov['source-map-cache'] ?? {})) {
    const content = entry?.data?.sourcesContent;
    if (Array.isArray(content) && content.every((s) => s == null)) {
      delete entry.data.sourcesContent;
      changed = true;
    }
  }
  if (changed) {
    fs.writeFileSync(file, JSON.stringify(cov));
    repaired++;
  }
}

if (unreadable.length > 0) {
  console.error(`coverage-floor: set aside ${unreadable.length} cut-off coverage file(s): ${unreadable.join(', ')}`);
  if (unreadable.length > Math.max(2, files.length / 50)) process.exit(1);
}

// 2. The reports, through tap (c8 underneath): the summary file this script reads, a short text
// summary, and whatever else was asked for on the command line.
const extra = process.argv.slice(2);
const reporters = [...new Set(['text-summary', 'json-summary', ...extra])];
fs.rmSync(summaryFile, { force: true });
const r = spawnSync(path.join(root, 'node_modules/.bin/tap'), ['report', ...reporters], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
// `tap report` wraps the reports in an empty TAP stream ("1..0 # no tests found", "# { total: 0 }"),
// and comments "# ERROR: incomplete ... coverage" for the same floor as below: keep the reports.
const tapNoise = /^(TAP version \d+|1\.\.0\b.*|# \{ total: .*|# time=.*|# ERROR: incomplete \w+ coverage.*)$/;
process.stdout.write(
  (r.stdout ?? '')
    .split('\n')
    .filter((l) => !tapNoise.test(l))
    .join('\n'),
);
if (r.status !== 0 || !fs.existsSync(summaryFile)) {
  console.error(`coverage-floor: tap report failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}

// 3. The floor.
const total = JSON.parse(fs.readFileSync(summaryFile, 'utf8')).total;
const below = [];
console.log(
  `coverage-floor: src/ from ${files.length - unreadable.length} coverage files (${repaired} repaired, ${unreadable.length} cut off)`,
);
for (const m of METRICS) {
  const pct = Number(total[m].pct);
  const ok = pct >= floor[m];
  if (!ok) below.push(m);
  console.log(
    `  ${m.padEnd(10)} ${pct.toFixed(2).padStart(6)}%  floor ${String(floor[m]).padStart(3)}%  ` +
      `(${total[m].covered}/${total[m].total})${ok ? '' : '  BELOW THE FLOOR'}`,
  );
}
if (below.length > 0) {
  console.error(`coverage-floor: ${below.join(', ')} below the floor (package.json "tap")`);
  process.exit(1);
}
