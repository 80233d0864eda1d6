import t from 'tap';
import { createRng, type Rng } from '../../src/math/rng.js';
import { FALLBACK, Float32JsonParser } from '../../src/http/float32-json-parse.js';

const parser = new Float32JsonParser();
const parse = (s: string) => parser.parse(Buffer.from(s, 'utf8'));

const bits = new Uint32Array(1);
const f32 = new Float32Array(bits.buffer);

/**
 * The parser's promise for one number: JSON.parse's float64 itself, or (for a long decimal) its
 * float32, and then only for a normal float32 well inside the range, where every route that uses
 * the parser stores Math.fround of the value anyway.
 */
function agrees(fast: number, ref: number): 'exact' | 'float32' | false {
  if (Object.is(fast, ref)) return 'exact';
  const f = Math.fround(ref);
  f32[0] = f;
  const e = (bits[0] >>> 23) & 0xff;
  return Object.is(fast, f) && e >= 7 && e <= 247 ? 'float32' : false;
}

function digitString(rng: Rng, n: number, leadingNonZero: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++)
    s += String(i === 0 && leadingNonZero ? 1 + Math.floor(rng.uniform() * 9) : Math.floor(rng.uniform() * 10));
  return s;
}

/** A random JSON number text: every form the grammar allows, 1 to 25 digits, any exponent. */
function randomNumberText(rng: Rng): string {
  const sign = rng.uniform() < 0.5 ? '-' : '';
  const intDigits = Math.floor(rng.uniform() * 20);
  const int = intDigits === 0 ? '0' : digitString(rng, intDigits, true);
  const frac =
    rng.uniform() < 0.7
      ? '.' +
        '0'.repeat(rng.uniform() < 0.3 ? Math.floor(rng.uniform() * 12) : 0) +
        digitString(rng, 1 + Math.floor(rng.uniform() * 20), false)
      : '';
  const r = rng.uniform();
  const exp =
    r < 0.6
      ? ''
      : (rng.uniform() < 0.5 ? 'e' : 'E') +
        ['', '+', '-'][Math.floor(rng.uniform() * 3)] +
        String(Math.floor(rng.uniform() * (r < 0.9 ? 40 : 400)));
  return sign + int + frac + exp;
}

t.test(
  "random numbers of every form: JSON.parse's float64, or its float32 where the routes keep only that",
  async (t) => {
    const rng = createRng(5);
    const counts = { exact: 0, float32: 0 };
    const wrong: string[] = [];
    for (let round = 0; round < 40; round++) {
      const texts = Array.from({ length: 2_000 }, () => randomNumberText(rng));
      const body = `[${texts.join(',')}]`;
      const fast = parse(body) as number[];
      const ref = JSON.parse(body) as number[];
      t.not(fast, FALLBACK);
      for (let i = 0; i < ref.length; i++) {
        const a = agrees(fast[i], ref[i]);
        if (a) counts[a]++;
        else if (wrong.length < 5) wrong.push(`${texts[i]} → ${fast[i]} (JSON.parse: ${ref[i]})`);
      }
    }
    t.same(wrong, [], 'no number read differently');
    t.ok(
      counts.exact > 10_000 && counts.float32 > 2_000,
      `both ways exercised (${counts.exact} exact, ${counts.float32} as float32)`,
    );
  },
);

t.test('17-digit decimals right at and beside float32 rounding boundaries', async (t) => {
  const rng = createRng(9);
  let wrong = 0;
  let checked = 0;
  const texts: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    bits[0] = (Math.floor(rng.uniform() * 0x7f000000) + 0x00800000) >>> 0; // positive normal float32
    const f = f32[0];
    bits[0]++;
    const mid = (f + f32[0]) / 2; // exact in float64: the boundary between two float32s
    for (const x of [mid, mid * (1 + 2 ** -52), mid * (1 - 2 ** -52), mid * (1 + 2 ** -50)]) {
      texts.push(x.toPrecision(17), (-x).toPrecision(17), String(x));
    }
  }
  const body = `{"inputs":[${texts.join(', ')}]}`;
  const fast = (parse(body) as { inputs: number[] }).inputs;
  const ref = (JSON.parse(body) as { inputs: number[] }).inputs;
  for (let i = 0; i < ref.length; i++) {
    checked++;
    if (!agrees(fast[i], ref[i])) wrong++;
  }
  t.equal(wrong, 0, `${checked} values where a careless estimate would round to the wrong float32`);
  // what the routes do with them: identical float32 rows either way
  t.same(Float32Array.from(fast), Float32Array.from(ref), 'the same float32 rows');
});

/** Random whitespace of the four kinds JSON allows. */
const ws = (rng: Rng) => [' ', '', '\n', '\t', '\r\n', ''][Math.floor(rng.uniform() * 6)];

function randomDoc(rng: Rng, depth: number): string {
  const r = rng.uniform();
  if (depth > 4 || r < 0.3) {
    const leaf = [
      () => String(Math.round((rng.uniform() - 0.5) * 1e6) / 1e3),
      () => String(Math.floor(rng.uniform() * 1e9)),
      () => `"${['a', 'model_1', '', 'x y', 'éa'.slice(1), '{[,:]}'][Math.floor(rng.uniform() * 6)]}"`,
      () => ['true', 'false', 'null'][Math.floor(rng.uniform() * 3)],
      () => (rng.uniform() - 0.5).toExponential(5),
    ];
    return leaf[Math.floor(rng.uniform() * leaf.length)]();
  }
  const n = Math.floor(rng.uniform() * 5);
  if (r < 0.65)
    return `[${ws(rng)}${Array.from({ length: n }, () => ws(rng) + randomDoc(rng, depth + 1) + ws(rng)).join(',')}]`;
  const keys = ['model', 'inputs', 'a', 'b', 'encoding', 'metric', 'model'];
  return `{${ws(rng)}${Array.from({ length: n }, () => `${ws(rng)}"${keys[Math.floor(rng.uniform() * keys.length)]}"${ws(rng)}:${ws(rng)}${randomDoc(rng, depth + 1)}`).join(',')}${ws(rng)}}`;
}

t.test('random documents: the same value as JSON.parse', async (t) => {
  const rng = createRng(21);
  let parsed = 0;
  const wrong: string[] = [];
  for (let i = 0; i < 3_000; i++) {
    const doc = `${ws(rng)}${rng.uniform() < 0.5 ? '[' + randomDoc(rng, 1) + ']' : '{"k":' + randomDoc(rng, 1) + '}'}${ws(rng)}`;
    const v = parse(doc);
    if (v === FALLBACK) continue;
    parsed++;
    // numbers here have at most 9 digits: exact, so the whole value must be identical
    if (JSON.stringify(v) !== JSON.stringify(JSON.parse(doc)) && wrong.length < 3) wrong.push(doc);
  }
  t.same(wrong, []);
  t.ok(parsed > 2_900, `nearly all parsed here (${parsed} of 3000; the rest hold non-ASCII text)`);
});

t.test('numbers a review found read wrongly: a huge exponent after a long fraction, and 2^53 + 1', async (t) => {
  // the exponent's dropped digits once let the scale land back in range: 1e22 or 1, not Infinity
  for (const zeros of [999_977, 999_999]) {
    const text = `[0.${'0'.repeat(zeros)}1e10000000]`;
    t.same(parse(text), JSON.parse(text), `0.(${zeros} zeros)1e10000000 is Infinity`);
  }
  t.same(parse(`[0.${'0'.repeat(990)}5e123456789012]`), [Infinity]);
  t.same(parse('[1e-123456789012]'), [0]);
  t.same(parse(`[${'1'.padEnd(30, '0')}e-29]`), [1], '30 digits, scaled back to 1');
  // digits 9007199254740993 accumulate (ties to even) to 2^53: not an exact integer any more
  let differ = 0;
  for (let s = -22; s <= 22; s++) {
    const text = `[9007199254740993e${s}]`;
    const fast = (parse(text) as number[])[0];
    const ref = (JSON.parse(text) as number[])[0];
    if (!Object.is(fast, ref) && !Object.is(fast, Math.fround(ref))) differ++;
  }
  t.equal(differ, 0, "9007199254740993e-22 … e22: JSON.parse's float64 or its float32");
  t.ok([0.9007199254740993, Math.fround(0.9007199254740993)].includes((parse('[0.9007199254740993]') as number[])[0]));
});

t.test('what it leaves to the standard parser', async (t) => {
  const invalid = [
    '',
    ' ',
    '[',
    ']',
    '{',
    '[1,]',
    '[,1]',
    '{"a":1,}',
    '{"a" 1}',
    '{a:1}',
    "{'a':1}",
    '[1 2]',
    '[01]',
    '[1.]',
    '[.5]',
    '[-]',
    '[+1]',
    '[1e]',
    '[1e+]',
    '[0x10]',
    '[NaN]',
    '[Infinity]',
    '[-Infinity]',
    '[tru]',
    '[nul]',
    '[True]',
    '["abc]',
    '["a\tb"]',
    '[1]x',
    '[1]]',
    '{"a":1}}',
    '[1,2',
    '{"a":[1,2}',
    '{"a":[1,2]',
    '[1,,2]',
    '[--1]',
    '[1e5.5]',
    '[1.2.3]',
    '{"a":1 "b":2}',
    '["\u0001"]',
  ];
  for (const s of invalid) {
    t.throws(() => JSON.parse(s), `JSON.parse refuses ${JSON.stringify(s)}`);
    t.equal(parse(s), FALLBACK, `left to the standard parser: ${JSON.stringify(s)}`);
  }
  const unsupported = [
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{}}}',
    '["a\\"b"]',
    '["\\u0041"]',
    '["é"]',
    '1',
    '"s"',
    'true',
    ' 1.5 ',
    `${'['.repeat(100)}${']'.repeat(100)}`,
    '{"a":"tab\\t"}',
  ];
  for (const s of unsupported) {
    t.doesNotThrow(() => JSON.parse(s), `valid JSON: ${JSON.stringify(s)}`);
    t.equal(parse(s), FALLBACK, `left to the standard parser: ${JSON.stringify(s).slice(0, 60)}`);
  }
});

t.test("damaged documents: either the standard parser's job, or exactly JSON.parse's value", async (t) => {
  const rng = createRng(33);
  const alphabet = '{}[],:"-+.eE0123456789 \tatrufsnl\\';
  let accepted = 0;
  let wrong = 0;
  for (let i = 0; i < 20_000; i++) {
    let doc = `{"model":"m1","inputs":[[${Array.from({ length: 4 }, () => (rng.uniform() * 2 - 1).toFixed(4)).join(',')}],[1e-3,-0,2]],"encoding":"float"}`;
    const edits = 1 + Math.floor(rng.uniform() * 2);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rng.uniform() * doc.length);
      const r = rng.uniform();
      const ch = alphabet[Math.floor(rng.uniform() * alphabet.length)];
      doc =
        r < 0.4
          ? doc.slice(0, at) + doc.slice(at + 1)
          : r < 0.8
            ? doc.slice(0, at) + ch + doc.slice(at)
            : doc.slice(0, at) + ch + doc.slice(at + 1);
    }
    const v = parse(doc);
    if (v === FALLBACK) continue;
    accepted++;
    let ref: unknown;
    try {
      ref = JSON.parse(doc);
    } catch {
      wrong++;
      continue;
    }
    if (
      JSON.stringify(v) !== JSON.stringify(ref) ||
      !Object.is((v as { inputs?: number[][] }).inputs?.[1]?.[1], (ref as { inputs?: number[][] }).inputs?.[1]?.[1])
    )
      wrong++;
  }
  t.equal(wrong, 0, 'never accepts what JSON.parse refuses, never reads it differently');
  t.ok(accepted > 1_000, `some damaged documents are still valid JSON, and read (${accepted})`);
});

t.test('vectors longer than the scratch array, and one parser used again', async (t) => {
  const long = Array.from({ length: 5_000 }, (_, i) => Math.sin(i) / 3);
  const body = JSON.stringify({ inputs: [long, long.slice(0, 3)], b: [[1, 'x', 2], [3]] });
  const v = parse(body) as { inputs: number[][]; b: unknown[][] };
  t.same(Float32Array.from(v.inputs[0]), Float32Array.from(long));
  t.same(v.inputs[1].map(Math.fround), long.slice(0, 3).map(Math.fround));
  t.same(v.b, [[1, 'x', 2], [3]], 'a run of numbers broken by another value');
  t.same(parse('{"a":[-0,0.0,-0.0e5]}'), { a: [-0, 0, -0] });
  t.ok(Object.is((parse('[-0]') as number[])[0], -0), '-0 stays -0');
});

t.test('a number on its own is an option, read exactly: only vectors are read to float32', async (t) => {
  // 0.300000005 sits within half a float32 step of 0.3000000119…, the float32 next to 0.3: read as
  // float32 it would move a search's maxDistance threshold past an item it should exclude.
  const rng = createRng(11);
  const texts = ['0.300000005', '0.30000000000000004', '0.1000000000000000055511151231257827'];
  for (let i = 0; i < 2_000; i++) texts.push(`0.${digitString(rng, 16 + Math.floor(rng.uniform() * 4), false)}1`);
  let approximated = 0;
  for (const text of texts) {
    const ref = JSON.parse(text) as number;
    const body = parse(`{"k":5,"maxDistance":${text},"inputs":[[${text},${text}]],"tail":[[0],${text}]}`);
    if (body === FALLBACK) return t.fail(`fell back on ${text}`);
    const b = body as { maxDistance: number; inputs: number[][]; tail: unknown[] };
    if (!Object.is(b.maxDistance, ref) || !Object.is(b.tail[1], ref)) t.fail(`${text}: ${b.maxDistance} ≠ ${ref}`);
    if (!agrees(b.inputs[0][0], ref)) t.fail(`${text} in a vector: ${b.inputs[0][0]}`);
    if (!Object.is(b.inputs[0][0], ref)) approximated++;
  }
  // the vectors still take the float32 path (the reason the parser exists)
  t.ok(approximated > texts.length / 2, `${approximated} vector values read to float32`);
});
