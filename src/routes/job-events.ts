// GET /jobs/:id/events: Server-Sent Events of a job's progress, ending with its final status.
import type { App } from '../app-types.js';
import { errors, IdParams } from '../schemas/common.js';
import { isFinished, type JobRecord } from '../domain/records.js';
import { Type } from '@sinclair/typebox';

/** Comment lines keep proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

export default async function jobEventRoutes(app: App): Promise<void> {
  const { jobs } = app.services;
  // Open streams end when the server shuts down, so they do not hold its close open.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const finish of [...open]) finish();
  });

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags: ['training'],
        summary: "Stream a job's progress",
        description:
          '`text/event-stream`. Events: `status` (the whole job, first and whenever its status changes), `progress` ' +
          "(the job's progress object), and a last `status` with the final job, after which the stream ends. " +
          'A slow client gets the newest progress, never a backlog.',
        params: IdParams,
        response: { 200: Type.String({ description: 'Server-Sent Events' }), ...errors(404) },
      },
    },
    async (req, reply) => {
      const first = await jobs.get(req.params.id); // 404 before any stream starts
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });

      let lastStatus = first.status;
      let backlog: string | null = null; // the newest event held back while the socket drains
      let closed = false;
      const write = (chunk: string) => {
        if (closed) return;
        if (res.writableNeedDrain) backlog = chunk;
        else res.write(chunk);
      };
      const event = (name: string, data: unknown) => write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      const onDrain = () => {
        if (backlog && !closed) {
          const b = backlog;
          backlog = null;
          res.write(b);
        }
      };
      const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
      let unsubscribe = () => {};
      const finish = () => {
        if (closed) return;
        closed = true;
        open.delete(finish);
        clearInterval(heartbeat);
        unsubscribe();
        res.off('drain', onDrain);
        res.end();
      };
      const onJob = (job: JobRecord) => {
        if (job.status !== lastStatus || isFinished(job.status)) {
          lastStatus = job.status;
          // The final status must not be dropped for a slow client: write it whatever the buffer holds.
          if (isFinished(job.status)) {
            backlog = null;
            if (!closed) res.write(`event: status\ndata: ${JSON.stringify(job)}\n\n`);
            finish();
            return;
          }
          event('status', job);
        } else if (job.progress) {
          event('progress', job.progress);
        }
      };
      open.add(finish);
      res.on('drain', onDrain);
      req.raw.on('close', finish);
      event('status', first);
      if (isFinished(first.status)) return finish();
      unsubscribe = jobs.subscribe(first.id, onJob);
      // The job may have ended between the read above and the subscription.
      const now = await jobs.get(first.id);
      if (now.status !== first.status) onJob(now);
    },
  );
}
