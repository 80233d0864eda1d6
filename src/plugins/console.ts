// The web console (web/, bundled by web/build.mjs into dist/console): static files under
// /console/, with the headers a page that holds an API key needs. The files hold no data, so they
// are open like /docs (a browser's navigation cannot send the key); every API call the page makes
// sends the key itself (docs/decisions/0049-web-console.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { App } from '../app-types.js';
import { errorBody } from '../errors.js';
import { isConsolePath } from './auth.js';

export const CONSOLE_PREFIX = '/console/';

/**
 * No inline scripts or styles, nothing from another origin, never framed. uPlot sets styles through
 * the CSSOM (element.style), which style-src does not govern.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the bundle is: dist/console seen from the compiled dist/src/plugins, or from src/plugins
 * when the sources run under tsx (tests). Undefined when it was never built.
 */
export function consoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../console'), path.resolve(here, '../../dist/console')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html')) && fs.existsSync(path.join(d, 'app.js')));
}

export default async function consolePlugin(app: App): Promise<void> {
  // (nosniff, like every reply's: src/http/private-replies.ts)
  app.addHook('onSend', (req, reply, payload, done) => {
    if (isConsolePath(req.url.split('?')[0])) {
      reply.header('content-security-policy', CONSOLE_CSP);
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cross-origin-opener-policy', 'same-origin');
    }
    done(null, payload);
  });
  app.get('/console', { schema: { hide: true } }, (_req, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  const root = consoleDir();
  if (root === undefined) {
    app.get(`${CONSOLE_PREFIX}*`, { schema: { hide: true } }, (_req, reply) =>
      reply
        .code(404)
        .send(errorBody(404, 'CONSOLE_NOT_BUILT', 'the console is not built: run `npm start` or `node web/build.mjs`')),
    );
    return;
  }
  // The bundle's names do not change between builds, so the browser revalidates every time.
  await app.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PREFIX,
    index: ['index.html'],
    cacheControl: true,
    maxAge: 0,
    immutable: false,
    schemaHide: true,
  });
}
