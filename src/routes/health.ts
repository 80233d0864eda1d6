import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';

const Health = Type.Object({
  status: Type.String({ examples: ['ok'] }),
  /** why the store is not ready, when that is the reason */
  reason: Type.Optional(Type.String()),
});

export default async function healthRoutes(app: App): Promise<void> {
  const tags = ['operations'];

  app.get(
    '/healthz',
    {
      schema: {
        tags,
        summary: 'Liveness',
        description: 'Answers 200 while the process runs.',
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'Readiness',
        description:
          '200 when the store passes its health check, the service is not shutting down and not shedding load ' +
          '(requests would get 503 OVERLOADED), else 503 with the reason.',
        response: { 200: Health, 503: Health },
      },
    },
    async (_req, reply) => {
      // Not ready while the load shedder answers 503 OVERLOADED: both ask the same shedder, now.
      const store = await app.services.health.storeHealth();
      const overload = app.shedder.overload();
      const ready = app.state.ready && overload === undefined && store.ok;
      const reason = !store.ok ? { reason: store.reason } : overload ? { reason: `overloaded: ${overload}` } : {};
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', ...reason });
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
