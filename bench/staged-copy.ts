// Binary bodies ending together, staged into the WebAssembly kernels by readStaged: the longest
// event-loop stall while they are copied into the kernels' memory, this built tree against another,
// alternating one process per round (docs/performance.md, "Bursts of large binary /embed bodies").
//
//   npm run bench -- --staged-copy <other built tree> [--rounds 10] [--bodies 6] [--cold]
//
// Each round runs in a fresh process of its tree (dist/, as `npm run build` leaves it): six bodies
// of 16,384,000 bytes (a full BODY_LIMIT_BYTES of float32 rows) are written into their streams, and
// then all end at once. --cold gives every round fresh kernels, whose memory has not grown yet.
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const BODY_BYTES = 16_384_000;
const PIECE = 64 * 1024;
const HERE = fileURLToPath(import.meta.url);
const THIS_TREE = resolve(HERE, '../..');

interface Round {
  stallMs: number;
  totalMs: number;
}

interface Tree {
  // the built tree's own modules, loaded at run time: their types are this tree's
  readStaged: typeof import('../src/http/staged-body.js').readStaged;
  StagingBudget: typeof import('../src/http/staged-body.js').StagingBudget;
  compute: ReturnType<typeof import('../src/compute/index.js').createServingCompute>;
}

async function load(root: string): Promise<Tree> {
  const { createServingCompute } = await import(`${root}/dist/src/compute/index.js`);
  const { readStaged, StagingBudget } = await import(`${root}/dist/src/http/staged-body.js`);
  return {
    readStaged,
    StagingBudget,
    compute: createServingCompute({ kernels: 'wasm', embedHelpers: 0, wide: 'auto' }),
  };
}

/** One round in this process, with the tree's kernels. */
async function round({ readStaged, StagingBudget, compute }: Tree, bodies: number): Promise<Round> {
  const body = Buffer.alloc(BODY_BYTES, 7);
  const budget = new StagingBudget(bodies * BODY_BYTES + 1);
  const streams = Array.from({ length: bodies }, () => new PassThrough({ highWaterMark: 64 * 1024 * 1024 }));
  const staged = streams.map((s) =>
    readStaged(s, {
      contentLength: String(BODY_BYTES),
      limit: BODY_BYTES,
      budget,
      stage: (n) => compute.kernels.stage!(n), // the wasm kernels stage
    }),
  );
  for (const s of streams) for (let at = 0; at < BODY_BYTES; at += PIECE) s.write(body.subarray(at, at + PIECE));
  await new Promise((r) => setTimeout(r, 50)); // every piece read into the parts
  let last = performance.now();
  let stallMs = 0;
  let done = false;
  const tick = () => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = performance.now();
  for (const s of streams) s.end();
  const rows = (await Promise.all(staged)) as { release(): void }[];
  const totalMs = performance.now() - t0;
  done = true;
  await new Promise((r) => setImmediate(r)); // the last tick: it measures the gap the copy's end left
  rows.forEach((r) => r.release());
  return { stallMs, totalMs };
}

function child(root: string, bodies: number, warm: boolean): Round {
  const args = ['--import', 'tsx', HERE, '--staged-copy-child', root, String(bodies), warm ? 'warm' : 'cold'];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`staged-copy round in ${root} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Round;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export function benchStagedCopy(other: string, o: { rounds: number; bodies: number; cold: boolean }): void {
  const trees = [THIS_TREE, resolve(other)];
  const results = trees.map(() => [] as Round[]);
  for (let i = 0; i < o.rounds; i++)
    for (const [t, root] of trees.entries()) results[t].push(child(root, o.bodies, !o.cold));
  for (const [t, root] of trees.entries()) {
    const rs = results[t];
    console.log(
      `${root}: longest stall median ${median(rs.map((r) => r.stallMs)).toFixed(1)} ms ` +
        `(${rs.map((r) => r.stallMs.toFixed(0)).join(', ')}); all staged in ${median(rs.map((r) => r.totalMs)).toFixed(0)} ms`,
    );
  }
  const ratio = median(results[0].map((r) => r.stallMs)) / median(results[1].map((r) => r.stallMs));
  console.log(`stall, this ÷ other: ${ratio.toFixed(3)}`);
}

// A round's process. Warm: one unmeasured round first, so the kernels' memory has grown already.
if (process.argv[2] === '--staged-copy-child') {
  const [root, bodies, mode] = process.argv.slice(3);
  const tree = await load(root);
  if (mode === 'warm') await round(tree, Number(bodies));
  console.log(JSON.stringify(await round(tree, Number(bodies))));
  tree.compute.close();
}
