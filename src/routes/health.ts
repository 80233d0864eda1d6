import { Type } from '@sinclair/typebox';
import type { App } from '../app-types.js';

const Health = Type.Object({ status: Type.String({ examples: ['ok'] }) });

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
          '200 when the store is open, the service is not shutting down and not shedding load ' +
          '(requests would get 503 OVERLOADED), else 503.',
        response: { 200: Health, 503: Health },
      },
    },
    async (_req, reply) => {
      // Not ready while the load shedder answers 503 OVERLOADED (e.g. just after a slow start).
      const ready = app.state.ready && !app.isUnderPressure() && app.services.health.storeReady();
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable' });
    },
  );

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
