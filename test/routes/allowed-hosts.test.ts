// ALLOWED_HOSTS (src/plugins/allowed-hosts.ts): through DNS rebinding a page on attacker.example
// reaches the service under its own name, so Origin and Host agree and the cross-origin rule lets
// its writes run. With the list set, a request whose Host is not on it is refused (400, naming the
// header and the setting); the health probes still answer; unset, every Host runs as before.
import t from 'tap';
import { hostAllowed } from '../../src/plugins/allowed-hosts.js';
import { expectError, testApp } from '../helpers.js';

t.test('hostAllowed: names, host:port, subdomains with a leading dot', async (t) => {
  const entries = ['embed.internal', 'localhost:8080', '.corp.example', '[::1]'];
  const cases: [string | undefined, boolean][] = [
    ['embed.internal', true],
    ['EMBED.internal:9000', true], // a name alone allows any port
    ['localhost:8080', true],
    ['localhost:8081', false],
    ['localhost', false],
    ['corp.example', true],
    ['a.b.corp.example:443', true],
    ['evilcorp.example', false],
    ['[::1]:8080', true],
    ['attacker.example:8080', false],
    ['embed.internal/x@attacker.example', false],
    ['', false],
    [undefined, false],
  ];
  for (const [host, want] of cases) t.equal(hostAllowed(host, entries), want, String(host));
});

t.test('a rebound name is refused on every route but the probes; unset, any Host runs', async (t) => {
  const app = await testApp(t, { config: { allowedHosts: ['embed.internal:8080'] } });
  const rebound = { host: 'attacker.example:8080', origin: 'http://attacker.example:8080' };
  const write = await app.inject({ method: 'POST', url: '/datasets', headers: rebound, payload: { dimension: 2 } });
  expectError(t, write, 400, 'INVALID_REQUEST');
  t.match(write.json().message, /the Host header "attacker\.example:8080" is not one of .*\(ALLOWED_HOSTS\)/);
  expectError(t, await app.inject({ url: '/datasets', headers: rebound }), 400, 'INVALID_REQUEST');
  const own = { host: 'embed.internal:8080', origin: 'http://embed.internal:8080' };
  t.equal((await app.inject({ url: '/datasets', headers: own })).json().items.length, 0, 'nothing was created');
  for (const url of ['/healthz', '/readyz'])
    t.equal((await app.inject({ url, headers: { host: '127.0.0.1:8080' } })).statusCode, 200, url);
  const ok = await app.inject({ method: 'POST', url: '/datasets', headers: own, payload: { dimension: 2 } });
  t.equal(ok.statusCode, 201, ok.body);

  const open = await testApp(t);
  const anyHost = await open.inject({ method: 'POST', url: '/datasets', headers: rebound, payload: { dimension: 2 } });
  t.equal(anyHost.statusCode, 201, 'without ALLOWED_HOSTS every name runs, as before');
});
