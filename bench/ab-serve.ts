// Serving, this tree against another built tree, side by side in one run: both servers start on
// the same machine with the same imported model, and rounds of the same load alternate between
// them, so a slow spell of the machine hits both. Prints each side's median req/s and the ratio,
// and each server's CPU time per request (user + system, from /proc, warm-up included), which a
// machine shared with other work disturbs far less than a rate.
//
//   npm run bench -- --ab-serve <other tree> [--rounds 3] [--duration 5] [--connections 10]
// The other tree must be built (`npm run build` there). Each round runs every case on A, then on B.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, ROOT } from '../scripts/server-process.js';

interface Side {
  name: string;
  base: string;
  stop: () => void;
  /** the server's CPU time so far, µs (user + system; NaN where /proc is missing) */
  cpuUs: () => number;
}

/** A process's user + system CPU time in µs, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuUsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

const LOAD_CASE = fileURLToPath(new URL('./load-case.ts', import.meta.url));
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

async function startTree(name: string, tree: string, dataDir: string): Promise<Side> {
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(tree, 'dist/src/server.js')], {
    cwd: tree,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', API_KEYS: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok)
        return { name, base, stop: () => proc.kill('SIGTERM'), cpuUs: () => cpuUsOf(proc.pid!) };
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`${name} (${tree}) did not start`);
}

/** The same seeded W (k×d) imported on both sides. */
async function importModel(base: string, k: number, d: number): Promise<string> {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const W = Array.from({ length: k }, () => Array.from({ length: d }, () => rnd() / Math.sqrt(d)));
  const r = await fetch(`${base}/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ W }),
  });
  return ((await r.json()) as { id: string }).id;
}

/** One load case (bench/load-case.ts) in a process of its own; its last line of output is the result. */
export function runLoadCase<T>(spec: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(TSX, [LOAD_CASE, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`load case exited ${code}`)),
    );
  });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export async function benchAbServe(other: string, opts: { rounds: number; duration: number; connections: number }) {
  const d = 512;
  const k = 128;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ab-serve-'));
  const sides = [
    await startTree('this tree', ROOT, path.join(tmp, 'a')),
    await startTree('other tree', path.resolve(other), path.join(tmp, 'b')),
  ];
  try {
    for (const s of sides) await importModel(s.base, k, d);
    const row = Array.from({ length: d }, (_, i) => Math.sin(i) * 0.5);
    const jsonFile = path.join(tmp, 'one.json');
    fs.writeFileSync(jsonFile, JSON.stringify({ inputs: [row] }));
    const binFile = path.join(tmp, 'rows.bin');
    fs.writeFileSync(binFile, Buffer.from(new Float32Array(Array.from({ length: 256 }, () => row).flat()).buffer));
    const cases = [
      { name: 'GET /healthz', path: '/healthz', method: 'GET' },
      {
        name: 'POST /embed, 1 JSON row',
        path: '/embed',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        bodyFile: jsonFile,
      },
      {
        name: 'POST /embed, 256 binary rows',
        path: '/embed?rows=256',
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', accept: 'application/octet-stream' },
        bodyFile: binFile,
        discardBodies: true,
      },
    ];
    const results = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of cases) {
        for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
          const { name, path: p, ...rest } = c;
          const cpuBefore = s.cpuUs();
          const r = await runLoadCase<{ reqPerSec: number; requests: number }>({
            ...rest,
            url: `${s.base}${p}`,
            connections: opts.connections,
            duration: opts.duration,
            warmup: 1,
          });
          const key = `${name} | ${s.name}`;
          results.set(key, [...(results.get(key) ?? []), r.reqPerSec]);
          cpu.set(key, [...(cpu.get(key) ?? []), (s.cpuUs() - cpuBefore) / r.requests]);
        }
      }
    }
    console.log(
      '| case | this tree (req/s) | other tree (req/s) | this ÷ other | CPU µs/req, this | other | this ÷ other |\n' +
        '|---|---|---|---|---|---|---|',
    );
    for (const c of cases) {
      const a = median(results.get(`${c.name} | this tree`)!);
      const b = median(results.get(`${c.name} | other tree`)!);
      const ca = median(cpu.get(`${c.name} | this tree`)!);
      const cb = median(cpu.get(`${c.name} | other tree`)!);
      console.log(
        `| ${c.name} | ${a.toFixed(0)} | ${b.toFixed(0)} | ${(a / b).toFixed(3)} | ` +
          `${ca.toFixed(1)} | ${cb.toFixed(1)} | ${(ca / cb).toFixed(3)} |`,
      );
    }
  } finally {
    for (const s of sides) s.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
