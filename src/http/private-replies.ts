// Every reply is private to its caller: embeddings, labels (people's names in a face gallery),
// search results, even the ids and names an error quotes are personal data, so no cache between
// (a proxy, a CDN, a shared browser's disk) may keep them. And no browser may sniff a reply into
// something it is not (JSON quoting a user's name taken for HTML).
import type { App } from '../app-types.js';

/** The headers every reply carries; also written by the paths Fastify's hooks never see. */
export const PRIVATE_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/**
 * One onSend hook on the root, so every route, error, 404 and framework refusal gets them. A reply
 * that chose its own Cache-Control keeps it: the console's and /docs' static files, which hold no
 * data and are revalidated. A callback hook, not an async one: it runs on every reply.
 */
export function keepRepliesPrivate(app: App): void {
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', PRIVATE_HEADERS['cache-control']);
    reply.header('x-content-type-options', PRIVATE_HEADERS['x-content-type-options']);
    done(null, payload);
  });
}
