// Client JSON text that the grammar allows and the service refuses before parsing: nesting past
// MAX_JSON_DEPTH, \u escapes that leave a lone surrogate, and \u0000. Unit cases, then the routes
// (JSON bodies, NDJSON lines, gallery items) on a real SQLite file, with nothing written.
import t from 'tap';
import type { AppError } from '../../src/errors.js';
import { checkJsonText, MAX_JSON_DEPTH } from '../../src/http/json-text.js';
import { expectError, identityGallery, testApp } from '../helpers.js';

const refusal = (text: string): AppError | null => {
  try {
    checkJsonText(text, 'the body');
    return null;
  } catch (e) {
    return e as AppError;
  }
};

t.test('nesting: MAX_JSON_DEPTH levels pass, one more is refused; brackets in strings do not count', async (t) => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
  t.equal(refusal(nest(MAX_JSON_DEPTH)), null);
  const deep = refusal(nest(MAX_JSON_DEPTH + 1));
  t.equal(deep?.code, 'INVALID_JSON');
  t.match(deep?.message, /deeper than 64 levels/);
  t.equal(refusal(`{"a":"${'['.repeat(500)}","b":[${'{"c":1},'.repeat(200)}{}]}`), null);
  t.equal(refusal(`{"a":"\\"${'{'.repeat(100)}"}`), null, 'an escaped quote does not end the string');
  t.equal(
    refusal(`[${'{"x":'.repeat(40)}[${'['.repeat(30)}1${']'.repeat(30)}]${'}'.repeat(40)}]`)?.code,
    'INVALID_JSON',
  );
});

t.test('escapes: lone halves of a surrogate pair are refused, pairs and other escapes pass', async (t) => {
  for (const ok of ['"\\ud83d\\ude00"', '"\\u00e9\\n\\t\\\\ud800"', '"\\uD83D\\uDE00x"', '{"\\u0041":1}', '"😀"'])
    t.equal(refusal(ok), null, ok);
  for (const [bad, field] of [
    ['{"id":"\\ud800"}', 'id'],
    ['{"id":"a\\udfff"}', 'id'],
    ['{"items":[{"id":"ok"},{"id":"\\ud83dx"}]}', 'items[1].id'],
    ['{"\\udc00":1}', '\\udc00'],
    ['["\\ud800\\ud800"]', '[0]'],
  ]) {
    const e = refusal(bad);
    t.equal(e?.code, 'INVALID_UTF8', bad);
    t.equal(e?.statusCode, 400);
    if (field !== '\\udc00') t.match(e?.message, new RegExp(`^${field.replace(/[[\]]/g, '\\$&')} holds`), bad);
  }
  t.match(refusal('{"id":"\\ud800"')?.message, /the body at character 7/, 'no parse: the offset is named');
  // the surrogate error parses the text to name the field: deep nesting after it must win first
  const both = `["\\ud800",${'['.repeat(100)}${']'.repeat(100)}]`;
  t.equal(refusal(both)?.code, 'INVALID_JSON', 'nesting after a lone surrogate is refused as nesting');
  t.equal(refusal('"\\\\ud800"'), null, 'an escaped backslash before u is no escape');
  t.equal(refusal('"ab\\"cd\\\\"'), null, 'escaped quotes and backslashes end where they should');
});

t.test('escapes: \\u0000 is refused in any string or key, naming it; other escapes pass', async (t) => {
  // \\u0000 after an escaped backslash is the text "\u0000", no escape
  for (const ok of ['"\\u0001"', '"\\u0100"', '"\\u1000"', '"\\\\u0000"', '{"\\\\u0000":"\\\\u0000"}'])
    t.equal(refusal(ok), null, ok);
  for (const [bad, field] of [
    ['{"name":"a\\u0000b"}', 'name'],
    ['{"items":[{"id":"ok"},{"id":"x","label":"\\u0000"}]}', 'items[1].label'],
    ['{"a\\u0000":1}', 'a\\u0000'],
    ['["\\ud83d\\ude00", "\\u0000"]', '[1]'],
  ]) {
    const e = refusal(bad);
    t.equal(e?.code, 'VALIDATION_ERROR', bad);
    t.equal(e?.statusCode, 400);
    t.equal(e?.message.startsWith(`${field} holds \\u0000 (U+0000, NUL)`), true, `${bad}: ${e?.message}`);
  }
  t.match(refusal('{"id":"\\u0000"')?.message, /^the body at character 7 holds/, 'no parse: the offset is named');
  t.equal(refusal('["\\u0000","\\ud800"]')?.code, 'VALIDATION_ERROR', 'the first refused escape is the one reported');
  t.equal(refusal('["\\ud800","\\u0000"]')?.code, 'INVALID_UTF8');
  const line = (() => {
    try {
      checkJsonText('{"id":"\\u0000"}', 'line 4');
    } catch (e) {
      return (e as AppError).message;
    }
  })();
  t.match(line, /^line 4\.id holds/);
});

t.test('routes refuse them and write nothing', async (t) => {
  const app = await testApp(t);
  const { gallery } = await identityGallery(app);
  const dataset = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json()
    .id as string;

  const json = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  const ndjson = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-ndjson' }, payload });

  const items = `{"items":[{"id":"a","input":[1,2]},{"id":"\\ud800","input":[3,4]}]}`;
  let r = await json(`/galleries/${gallery}/items`, items);
  expectError(t, r, 400, 'INVALID_UTF8');
  t.match(r.json().message, /^items\[1\]\.id holds \\ud800/);
  r = await ndjson(`/galleries/${gallery}/items`, '{"id":"a","input":[1,2]}\n{"id":"b\\udfff","input":[3,4]}\n');
  expectError(t, r, 400, 'INVALID_UTF8');
  t.match(r.json().message, /^line 2\.id holds/);
  t.equal((await app.inject({ url: `/galleries/${gallery}` })).json().itemCount, 0, 'no item was enrolled');

  r = await json(`/datasets/${dataset}/samples`, '{"samples":[{"vector":[1,2],"label":"\\ud800"}]}');
  expectError(t, r, 400, 'INVALID_UTF8');
  t.match(r.json().message, /^samples\[0\]\.label holds/);
  r = await ndjson(
    `/datasets/${dataset}/samples`,
    '{"vector":[1,2],"label":"x"}\n{"vector":[1,2],"label":"\\udc00"}\n',
  );
  expectError(t, r, 400, 'INVALID_UTF8');
  t.equal((await app.inject({ url: `/datasets/${dataset}` })).json().sampleCount, 0, 'no sample was stored');

  // bytes that are not UTF-8 are named by parsing the text, unless it nests too deep to parse
  const bad = Buffer.concat([
    Buffer.from('{"name":"'),
    Buffer.from([0xff]),
    Buffer.from(`","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`),
  ]);
  r = await app.inject({
    method: 'POST',
    url: '/datasets',
    headers: { 'content-type': 'application/json' },
    payload: bad,
  });
  expectError(t, r, 400, 'INVALID_UTF8');
  t.equal(r.json().message, 'the body is not valid UTF-8', 'not parsed to name the field');

  // 1 MB of nesting: refused by the scan, not parsed
  const deep = `{"name":${'['.repeat(500_000)}${']'.repeat(500_000)},"dimension":2}`;
  const before = (await app.inject({ url: '/datasets' })).json().items.length;
  r = await json('/datasets', deep);
  expectError(t, r, 400, 'INVALID_JSON');
  t.match(r.json().message, /deeper than 64 levels/);
  r = await json('/distances', `{"a":${'['.repeat(100)}${']'.repeat(100)},"b":[[1,2]]}`);
  expectError(t, r, 400, 'INVALID_JSON');
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, before, 'no dataset was made');
});
