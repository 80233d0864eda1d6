// Large gallery search replies are streamed (src/http/search-reply.ts) and say exactly what the
// small, schema-serialised replies say: the same queries asked in small requests give the same hits.
import t from 'tap';
import { STREAM_HITS } from '../../src/http/search-reply.js';
import { testApp } from '../helpers.js';

t.test('a reply past STREAM_HITS is streamed and equals the small replies joined', async (t) => {
  const app = await testApp(t);
  const D = 4;
  const W = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (i === j ? 1 : 0)));
  const model = (await app.inject({ method: 'POST', url: '/models', payload: { W } })).json().id as string;
  const gallery = (await app.inject({ method: 'POST', url: '/galleries', payload: { name: 'g', model } })).json()
    .id as string;
  const n = 1500;
  const items = Array.from({ length: n }, (_, i) => ({
    id: `item-"${i}"-é`, // quotes and non-ASCII: the streamed text escapes them as JSON.stringify does
    ...(i % 3 === 0 ? {} : { label: i % 3 === 1 ? `p${i % 50}` : i % 40 }), // no label reads null
    input: [Math.sin(i), Math.cos(i * 1.3), (i % 17) / 17, Math.sin(i * 0.7) * 3],
  }));
  t.equal(
    (await app.inject({ method: 'POST', url: `/galleries/${gallery}/items`, payload: { items } })).statusCode,
    201,
  );
  const queries = Array.from({ length: 24 }, (_, j) => [Math.cos(j), Math.sin(j), j / 24, 1]);
  const k = 1000;
  t.ok(queries.length * k > STREAM_HITS, 'this request is over the threshold');
  const big = await app.inject({
    method: 'POST',
    url: `/galleries/${gallery}/search`,
    payload: { embeddings: queries, k },
  });
  t.equal(big.statusCode, 200);
  t.match(big.headers['content-type'], /^application\/json/);
  t.notOk(big.headers['content-length'], 'streamed: no content-length');
  const small = [];
  for (let j = 0; j < queries.length; j += 4) {
    const r = await app.inject({
      method: 'POST',
      url: `/galleries/${gallery}/search`,
      payload: { embeddings: queries.slice(j, j + 4), k },
    });
    t.ok(r.headers['content-length'], 'small: sent in one go');
    small.push(r.json());
  }
  const body = big.json();
  t.same(
    { ...body, results: undefined },
    { ...small[0], results: undefined },
    'model, metric, version and index alike',
  );
  t.same(
    body.results,
    small.flatMap((r) => r.results),
    'every hit alike',
  );
  // the text of one query's hits, streamed and serialised by the schema, is the same text
  const one = small[0].results[0].slice(0, 3);
  const text = big.body.slice(big.body.indexOf('"results":[[') + 12);
  t.equal(text.slice(0, JSON.stringify(one).length - 2), JSON.stringify(one).slice(1, -1));
});
