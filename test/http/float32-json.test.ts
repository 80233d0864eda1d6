import t from 'tap';
import { createRng } from '../../src/math/rng.js';
import { MAX_VALUE_BYTES, shortFloat32, writeFloat32, writeRows } from '../../src/http/float32-json.js';

const text = (v: number) => {
  const out = new Uint8Array(64);
  return Buffer.from(out.subarray(0, writeFloat32(out, 0, v))).toString('latin1');
};

t.test('every float32 bit pattern class: same text as JSON.stringify, exact round trip, bounded length', async (t) => {
  const rng = createRng(11);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  let mismatches = 0;
  let roundTrips = 0;
  let tooLong = 0;
  const n = 200_000;
  for (let i = 0; i < n; i++) {
    bits[0] = Math.floor(rng.uniform() * 2 ** 32) >>> 0;
    const v = f[0];
    const s = text(v);
    if (s !== JSON.stringify(shortFloat32(v))) mismatches++;
    if (Number.isFinite(v) && Math.fround(JSON.parse(s)) !== v) roundTrips++;
    if (s.length + 1 > MAX_VALUE_BYTES) tooLong++;
  }
  t.equal(mismatches, 0, `text = JSON.stringify(shortFloat32(v)) for ${n} random bit patterns`);
  t.equal(roundTrips, 0, 'Math.fround(JSON.parse(text)) === v');
  t.equal(tooLong, 0, 'within MAX_VALUE_BYTES with a separator');
});

t.test('typical embedding values are short and exact', async (t) => {
  const rng = createRng(3);
  let chars = 0;
  let plain = 0;
  let inexact = 0;
  for (let i = 0; i < 10_000; i++) {
    const v = Math.fround((rng.uniform() - 0.5) * 0.3);
    const s = text(v);
    if (Math.fround(Number(s)) !== v) inexact++;
    chars += s.length;
    plain += JSON.stringify(v).length;
  }
  t.equal(inexact, 0, 'every value comes back exactly');
  t.ok(chars < 0.65 * plain, `shorter than float64 text (${chars} vs ${plain} characters)`);
});

t.test('edge values print as Number#toString would', async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [100, '100'],
    [16777216, '16777216'],
    [123456789, '123456790'],
    [1e-7, '1e-7'],
    [0.000001, '0.000001'],
    [1e20, '100000000000000000000'],
    [1e21, '1e+21'],
    [1.5e21, '1.5e+21'],
    [Infinity, 'null'],
    [NaN, 'null'],
  ];
  for (const [v, want] of cases) t.equal(text(Math.fround(v)), want, String(v));
  // beyond float64's exact powers of ten: the float64 text, still exact
  for (const v of [3.4e38, 1e-40, -1.1754943508222875e-38]) {
    const f = Math.fround(v);
    t.equal(text(f), JSON.stringify(f), `${v} falls back to JSON.stringify`);
  }
});

t.test('writeRows gives a JSON array of arrays', async (t) => {
  const x = Float32Array.from([0.1, -2, 3.25, 1e-8, 7, 0]);
  const out = new Uint8Array(2 * (3 * MAX_VALUE_BYTES + 2) + 2);
  const end = writeRows(out, 0, x, 2, 3);
  const rows = JSON.parse(Buffer.from(out.subarray(0, end)).toString('latin1')) as number[][];
  t.same(
    rows.map((r) => r.map(Math.fround)),
    [
      [x[0], x[1], x[2]],
      [x[3], x[4], x[5]],
    ],
  );
  const empty = writeRows(out, 0, x, 0, 3);
  t.equal(Buffer.from(out.subarray(0, empty)).toString(), '[]');
});
