// The console behind a reverse proxy, as deployed: the proxy passes its own Host (not the one the
// browser addressed, so the page's Origin and the Host differ) and answers itself when the service
// is away (a 502 page) or when its sign-in has lapsed (a 200 sign-in page). The console's writes
// (JSON, an upload, a PUT) still pass the cross-origin rule, and the proxy's pages are reported
// as what they are, not as their markup.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { dropFile } from './browser.js';
import { prepare, session, WAIT } from './session.js';

type Mode = 'pass' | 'sign-in';

/** A reverse proxy on a free port to the server at `target`, with Host set to `host`. */
async function proxy(target: () => number, host: string) {
  const state = { mode: 'pass' as Mode };
  const server = http.createServer((req, res) => {
    const page = (status: number, title: string) => {
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end(`<html><head><title>${title}</title></head><body><h1>${title}</h1><hr>proxy</body></html>`);
    };
    if (state.mode === 'sign-in' && !req.url?.startsWith('/console')) return page(200, 'Sign in');
    const up = http.request(
      { host: '127.0.0.1', port: target(), method: req.method, path: req.url, headers: { ...req.headers, host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => page(502, '502 Bad Gateway'));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { state, server, port: (server.address() as AddressInfo).port };
}

if (prepare())
  t.test('behind a proxy: writes pass, and its own pages are named, not shown as markup', async (t) => {
    const s = await session(t);
    const { page } = s;
    const p = await proxy(() => s.server.port, 'backend.internal:8080');
    t.teardown(() => {
      p.server.close();
      p.server.closeAllConnections(); // the browser's keep-alive connections would hold close() open
    });
    const ds = await s.call('POST', '/datasets', { name: 'ds', dimension: 2 });
    const m = await s.call('POST', '/models', { W: [[1, 0]], name: 'm' });
    // localhost, not 127.0.0.1: the page's origin is neither the proxy's Host nor the service's
    const base = `http://localhost:${p.port}`;

    await page.goto(`${base}/console/#/data`);
    await page.fill('form[aria-label="New dataset"] input[name=name]', 'via-proxy');
    await page.fill('form[aria-label="New dataset"] input[name=dimension]', '2');
    await page.click('form[aria-label="New dataset"] button');
    await page.waitForSelector('td :text-is("via-proxy")', WAIT);
    t.pass('a JSON POST through the proxy');
    await page.waitForSelector(`select[name=target] option[value="dataset:${ds.id}"]`, { state: 'attached', ...WAIT });
    await page.selectOption('select[name=target]', `dataset:${ds.id}`);
    await dropFile(page, 'two.ndjson', '{"vector": [1, 0], "label": "a"}\n{"vector": [0, 1], "label": "b"}\n');
    await page.waitForSelector('#drop .note:has-text("2 added")', WAIT);
    t.pass('an upload (XMLHttpRequest) through the proxy');
    await page.click('nav a[href="#/aliases"]');
    await page.waitForSelector(`select[name=model] option[value="${m.id}"]`, { state: 'attached', ...WAIT });
    await page.fill('input[name=alias]', 'prod');
    await page.click('form[aria-labelledby=promote-title] button[type=submit]');
    await page.click(`.confirm button:has-text("Point prod at ${m.id}")`);
    await page.waitForSelector(`#status:has-text("Alias prod now names ${m.id}")`, WAIT);
    t.pass('a PUT through the proxy');

    // The proxy's sign-in page (200, HTML) where the service's JSON was expected.
    p.state.mode = 'sign-in';
    await page.click('nav a[href="#/models"]');
    await page.waitForSelector('#status.error', WAIT);
    const signIn = (await page.textContent('#status')) ?? '';
    t.match(signIn, /not the service's/, `the sign-in page is named: ${signIn}`);
    t.notMatch(signIn, /<|JSON at position|Unexpected token/, 'not shown as markup or a parse error');

    // The service away: the proxy's 502 page.
    p.state.mode = 'pass';
    await s.stop();
    await page.click('nav a[href="#/jobs"]');
    await page.waitForSelector('#status.error:has-text("502")', WAIT);
    const gateway = (await page.textContent('#status')) ?? '';
    t.match(gateway, /HTTP 502 Bad Gateway/, `the 502 is named: ${gateway}`);
    t.notMatch(gateway, /</, 'not shown as markup');
    t.same(s.problems, [], 'no script errors');
  });
