// The console's files from the app itself: open with API_KEYS set (they hold no data) while the API
// stays closed, the security headers on every /console reply, and /console redirected to /console/.
import t from 'tap';
import { CONSOLE_CSP, consoleDir } from '../../src/plugins/console.js';
import { testApp } from '../helpers.js';

const KEY = 'a-console-route-test-key';

t.test('the console needs no key, the API still does', async (t) => {
  const app = await testApp(t, { config: { apiKeys: [KEY] } });
  const page = await app.inject({ method: 'GET', url: '/console/' });
  t.not(page.statusCode, 401, '/console/ is open');
  // Built: the page. Not built (a test run before any build): a JSON 404 that says how to build it.
  if (consoleDir()) {
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /text\/html/);
    t.match(page.body, /<script type="module" src="app.js"><\/script>/);
    t.notMatch(page.body, /<script>|style=/, 'no inline script or style');
    const script = await app.inject({ method: 'GET', url: '/console/app.js' });
    t.equal(script.statusCode, 200);
    t.match(script.headers['content-type'], /javascript/);
  } else {
    t.equal(page.statusCode, 404);
    t.equal(page.json().code, 'CONSOLE_NOT_BUILT');
  }
  t.equal((await app.inject({ method: 'GET', url: '/jobs' })).statusCode, 401, 'the API needs the key');
  const withKey = await app.inject({ method: 'GET', url: '/jobs', headers: { authorization: `Bearer ${KEY}` } });
  t.equal(withKey.statusCode, 200);
  t.notOk(withKey.headers['content-security-policy'], 'API replies are not given the console headers');
});

t.test('security headers and the redirect', async (t) => {
  const app = await testApp(t);
  const redirect = await app.inject({ method: 'GET', url: '/console' });
  t.equal(redirect.statusCode, 302);
  t.equal(redirect.headers.location, '/console/');
  for (const url of ['/console', '/console/', '/console/app.js', '/console/no-such-file.js']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.headers['content-security-policy'], CONSOLE_CSP, `${url}: CSP`);
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: no framing`);
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`);
  }
  t.match(CONSOLE_CSP, /script-src 'self'/);
  t.match(CONSOLE_CSP, /frame-ancestors 'none'/);
  t.notMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
  t.notOk(JSON.stringify(app.swagger()).includes('/console'), 'the console is not in the OpenAPI document');
});
