// The one body-parsers plugin: each route gets the readers its config asks for, and no others.
import t from 'tap';
import { Float32JsonParser } from '../../src/http/float32-json-parse.js';
import { testApp } from '../helpers.js';

t.test('the float32 JSON reader reads only the bodies of routes that ask for it', async (t) => {
  let reads = 0;
  const parse = Float32JsonParser.prototype.parse;
  Float32JsonParser.prototype.parse = function (this: Float32JsonParser, body: Buffer) {
    reads++;
    return parse.call(this, body);
  };
  t.teardown(() => {
    Float32JsonParser.prototype.parse = parse;
  });
  const app = await testApp(t);
  t.equal(
    (
      await app.inject({
        method: 'POST',
        url: '/models',
        payload: {
          W: [
            [1, 0],
            [0, 1],
          ],
        },
      })
    ).statusCode,
    201,
  );
  t.equal((await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).statusCode, 201);
  t.equal(reads, 0, 'not for /models or /datasets');
  t.equal((await app.inject({ method: 'POST', url: '/embed', payload: { inputs: [[0.1, 0.2]] } })).statusCode, 200);
  t.equal((await app.inject({ method: 'POST', url: '/distances', payload: { a: [[0.1, 0.2]] } })).statusCode, 200);
  t.equal(reads, 2, 'for /embed and /distances');
  const bad = await app.inject({
    method: 'POST',
    url: '/embed',
    headers: { 'content-type': 'application/json' },
    payload: '{"inputs":[[0.1,',
  });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().code, 'INVALID_JSON', 'what the reader declines gets the standard parser and its errors');
  t.match(bad.json().message, 'the body is not valid JSON');
});

t.test('streamed types reach only the routes that list them', async (t) => {
  const app = await testApp(t);
  const ds = (await app.inject({ method: 'POST', url: '/datasets', payload: { dimension: 2 } })).json().id as string;
  const ndjson = { 'content-type': 'application/x-ndjson' };
  const octet = { 'content-type': 'application/octet-stream' };
  const line = '{"anchor":[1,2],"positive":[1,2],"negative":[2,1]}\n';
  t.equal(
    (await app.inject({ method: 'POST', url: `/datasets/${ds}/triplets`, headers: ndjson, payload: line })).statusCode,
    201,
  );
  const refused = await app.inject({ method: 'POST', url: '/distances', headers: ndjson, payload: line });
  t.equal(refused.statusCode, 415);
  t.equal(refused.json().message, 'POST /distances takes application/json, not application/x-ndjson');
  t.equal(
    (await app.inject({ method: 'POST', url: '/datasets', headers: octet, payload: Buffer.alloc(8) })).statusCode,
    415,
  );
  t.equal(
    (await app.inject({ method: 'POST', url: '/nowhere', headers: octet, payload: Buffer.alloc(8) })).statusCode,
    404,
  );
});
