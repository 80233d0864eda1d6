// Refusals that are about the request, not its body: a static path outside the console's root or
// with a NUL names the path (400/403 INVALID_REQUEST), and a compressed body is 415, not read as
// plain text.
import { connect } from 'node:net';
import t from 'tap';
import { expectError, testApp } from '../helpers.js';

/** One raw HTTP/1.1 request, so the path reaches the server as written (inject normalises `..`). */
function raw(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let text = '';
    s.on('data', (b) => (text += b.toString('utf8')));
    s.on('error', reject);
    s.on('end', () => resolve({ status: Number(text.split(' ')[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) }));
  });
}

t.test('static paths that are refused name the path', async (t) => {
  const app = await testApp(t);
  const nul = await app.inject({ url: '/console/%00' });
  expectError(t, nul, 400, 'INVALID_REQUEST');
  t.match(nul.json().message, /^the path "\/console\/%00" holds %00/, 'refused with every other NUL (src/http/nul.ts)');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  for (const path of ['/console/../package.json', '/console/..%2f..%2fpackage.json']) {
    const r = await raw(port, path);
    t.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
    const body = JSON.parse(r.body.replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, ''));
    t.not(body.code, 'INVALID_BODY', `${path}: not called a body error (${body.code})`);
    t.notMatch(r.body, /"name": ?"triplet-embed"/, 'package.json is not served');
  }
});

t.test('a compressed body is 415, whatever the route', async (t) => {
  const app = await testApp(t);
  for (const encoding of ['gzip', 'br', 'deflate, gzip']) {
    const r = await app.inject({
      method: 'POST',
      url: '/datasets',
      headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      payload: '{"dimension":2}',
    });
    expectError(t, r, 415, 'UNSUPPORTED_MEDIA_TYPE');
    t.match(r.json().message, /^Content-Encoding .* is not accepted/);
  }
  t.equal((await app.inject({ url: '/datasets' })).json().items.length, 0, 'nothing was made');
  const plain = await app.inject({
    method: 'POST',
    url: '/datasets',
    headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
    payload: '{"dimension":2}',
  });
  t.equal(plain.statusCode, 201, 'identity is no encoding');
  // a route that reads no body is not refused for what a client sends along with every request
  const get = await app.inject({
    method: 'GET',
    url: '/datasets',
    headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
    payload: '{}',
  });
  t.equal(get.statusCode, 200, get.body);
});
