// JSON request bodies: `npm run bench -- --json-parse [--rows 1] [--d 512] [--runs 9]`.
// Times, on the same bodies in one process and in turn, what the serving routes used to do with a
// JSON body (UTF-8 decode, then Fastify's own JSON parser: JSON.parse and prototype checks) against
// Float32JsonParser on its bytes, for the number texts clients send: float64s (17 digits),
// float32 values printed as float64s, and 8-digit decimals. Prints µs per body and the ratio.
import Fastify from 'fastify';
import { createRng } from '../src/math/rng.js';
import { Float32JsonParser } from '../src/http/float32-json-parse.js';
import { median, normals } from './data.js';

export interface JsonParseOptions {
  rows: number;
  d: number;
  runs: number;
}

function body(rows: number, d: number, print: (v: number) => number): Buffer {
  const rng = createRng(3);
  const inputs = Array.from({ length: rows }, () => Array.from(normals(rng, d), print));
  return Buffer.from(JSON.stringify({ model: 'mdl_0123456789abcdef', inputs }));
}

/** µs per call of f, over enough calls to take ~20 ms. */
function usPer(f: () => unknown): number {
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) f();
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 20e6) return ns / calls / 1e3;
    calls *= 2;
  }
}

export function benchJsonParse(o: JsonParseOptions): string {
  const parser = new Float32JsonParser();
  // Fastify's own JSON body parser, with the app's settings (as the routes fall back to it)
  const standardParser = Fastify().getDefaultJsonParser('error', 'error');
  const standard = (b: Buffer) => {
    let out: unknown;
    standardParser({} as never, b.toString('utf8'), (err, v) => {
      if (err) throw err;
      out = v;
    });
    return out;
  };
  const cases: [string, Buffer][] = [
    ['float64 values (17 digits)', body(o.rows, o.d, (v) => v)],
    ['float32 values as float64 text', body(o.rows, o.d, Math.fround)],
    ['8 significant digits', body(o.rows, o.d, (v) => Number(v.toPrecision(8)))],
  ];
  const lines = [`JSON body {"model","inputs"} with ${o.rows}×${o.d} numbers, median of ${o.runs} alternating runs`];
  for (const [name, b] of cases) {
    const before: number[] = [];
    const ours: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      before.push(usPer(() => standard(b)));
      ours.push(usPer(() => parser.parse(b)));
    }
    const s = median(before);
    const f = median(ours);
    lines.push(
      `  ${name.padEnd(32)} ${(b.length / 1024).toFixed(1).padStart(6)} KB  Fastify's parser ${s.toFixed(1).padStart(7)} µs  Float32JsonParser ${f.toFixed(1).padStart(7)} µs  ratio ${(f / s).toFixed(2)}×`,
    );
  }
  return lines.join('\n');
}
