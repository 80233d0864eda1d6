#!/usr/bin/env node
// Bundles the web console (web/) into dist/console: app.js (the TypeScript and uPlot, one ES
// module), app.css (the styles and uPlot's) and index.html. esbuild only: no type check here
// (`npm run typecheck` checks web/ with web/tsconfig.json). Run by scripts/build.mjs when web/
// changed, and by `npm run build` (the Dockerfile's build).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const web = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(web, '../dist/console');
const quiet = process.argv.includes('--quiet');

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints: { app: path.join(web, 'src/main.ts'), 'app-style': path.join(web, 'style.css') },
  outdir: out,
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: quiet ? 'warning' : 'info',
  metafile: true,
});
// One style sheet named app.css (esbuild names a CSS entry after its entry name).
fs.renameSync(path.join(out, 'app-style.css'), path.join(out, 'app.css'));
fs.renameSync(path.join(out, 'app-style.css.map'), path.join(out, 'app.css.map'));
fs.copyFileSync(path.join(web, 'index.html'), path.join(out, 'index.html'));
if (!quiet) console.error(`web/build: ${Object.keys(result.metafile.outputs).length} files in ${out}`);
