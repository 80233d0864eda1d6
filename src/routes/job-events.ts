// GET /jobs/:id/events: a job's stored progress points as JSON (`format=json` or
// `Accept: application/json`), or by default Server-Sent Events of its progress, ending with its
// final status. Every SSE event carries `id:` (the seq of the newest point sent), so a client that
// reconnects with `Last-Event-ID` gets the stored points it missed, then the live ones.
import type { App } from '../app-types.js';
import { PRIVATE_HEADERS } from '../http/private-replies.js';
import { errors, IdParams } from '../schemas/common.js';
import { isFinished, JobEvent, type JobRecord } from '../domain/records.js';
import { Type } from '@sinclair/typebox';

/** Comment lines keep proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
/** What the stream asks a client to wait before it reconnects (the SSE `retry:` field). */
const RETRY_MS = 2000;
/** Points read from the store at a time while streaming. */
const STREAM_PAGE = 200;

const EventsQuery = Type.Object({
  after: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        'List (or, in the stream, replay) the points with a seq above this one. The stream takes `Last-Event-ID` first; without either it starts at the newest point',
    }),
  ),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'JSON: the most points in a page' }),
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('sse')], {
      description: 'Overrides the Accept header: `json` lists the stored points, `sse` streams',
    }),
  ),
});

const EventPage = Type.Object(
  {
    items: Type.Array(JobEvent),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'The last seq of this page when more follow: pass it as `after`',
    }),
  },
  { $id: 'JobEventPage' },
);

/** JSON unless the client asks for the stream: `format`, else an Accept that names JSON and not SSE. */
function wantsJson(format: string | undefined, accept: string | undefined): boolean {
  if (format) return format === 'json';
  const a = accept ?? '';
  return a.includes('application/json') && !a.includes('text/event-stream');
}

/** The Last-Event-ID header as a seq; undefined when absent or not one this stream sent. */
function lastEventId(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  return v !== undefined && /^\d{1,15}$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

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
        summary: "A job's progress: stored points (JSON) or a live stream (SSE)",
        description:
          'With `format=json` or `Accept: application/json`: the stored progress points after `after`, oldest first, ' +
          '`{items, nextCursor}`, while the job runs and after it ended (at most 1,000 per job; a long job keeps ' +
          'every point until then, after which every second one is dropped, oldest stretches first). ' +
          'Otherwise `text/event-stream`: `retry:`, then events `status` (the whole job, first and whenever its ' +
          "status changes), `progress` (the job's progress object, one per stored point), and a last `status` with " +
          'the final job, after which the stream ends. Every event has `id:`, the seq of the newest point sent: ' +
          'reconnecting with `Last-Event-ID` replays the stored points after it, then goes on live. A slow client ' +
          'is sent the points it missed once its socket drains.',
        params: IdParams,
        querystring: EventsQuery,
        produces: ['text/event-stream', 'application/json'],
        response: {
          200: {
            description: 'The stream (SSE), or a page of stored progress points (JSON)',
            content: {
              'text/event-stream': { schema: Type.String({ description: 'Server-Sent Events' }) },
              'application/json': { schema: EventPage },
            },
          },
          ...errors(400, 404),
        },
      },
    },
    async (req, reply) => {
      const first = await jobs.get(req.params.id); // 404 before any stream starts
      const { after, limit, format } = req.query;
      if (wantsJson(format, req.headers.accept)) {
        return reply.type('application/json').send(await jobs.events(first.id, after ?? 0, limit));
      }
      let cursor = lastEventId(req.headers['last-event-id']) ?? after ?? (await jobs.newestEventSeq(first.id));
      reply.hijack();
      const res = reply.raw;
      // Hijacked: no hook adds the headers every reply carries (src/http/private-replies.ts).
      res.writeHead(200, {
        ...PRIVATE_HEADERS,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': `${PRIVATE_HEADERS['cache-control']}, no-transform`,
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      res.write(`retry: ${RETRY_MS}\n\n`);

      let lastStatus = first.status;
      let closed = false;
      const block = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\nid: ${cursor}\n\n`;
      const heartbeat = setInterval(() => {
        if (!closed && !res.writableNeedDrain) res.write(': keep-alive\n\n');
      }, HEARTBEAT_MS);
      let unsubscribe = () => {};
      const finish = () => {
        if (closed) return;
        closed = true;
        open.delete(finish);
        clearInterval(heartbeat);
        unsubscribe();
        res.off('drain', pump);
        res.end();
      };

      /**
       * Sends the stored points after the cursor, in order, until the socket's buffer is full: then
       * it stops at the point it wrote last (`drain` pumps again), so a client that does not read
       * holds at most the buffer and one point here, not the job's history. The store keeps the
       * points; a page is read again from the cursor.
       */
      const sendPoints = async (): Promise<void> => {
        for (;;) {
          if (closed || res.writableNeedDrain) return;
          const page = await jobs.events(first.id, cursor, STREAM_PAGE);
          for (const e of page.items) {
            if (closed || res.writableNeedDrain) return;
            cursor = e.seq;
            res.write(block('progress', e.progress));
          }
          if (!page.nextCursor) return;
        }
      };
      /** Resolves once the socket's buffer has room again, or the stream closed. */
      const drained = () =>
        new Promise<void>((resolve) => {
          if (closed || !res.writableNeedDrain) return resolve();
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      /** Every stored point, at the client's pace: the final status goes after the last of them. */
      const sendAllPoints = async (): Promise<void> => {
        for (;;) {
          await sendPoints();
          if (closed || !res.writableNeedDrain) return;
          await drained();
        }
      };
      // Every write goes through one chain, so points, status changes and the end keep their order.
      let tail = Promise.resolve();
      const enqueue = (step: () => Promise<void> | void) => {
        tail = tail.then(step).catch((e: Error) => {
          // the store failed mid-stream: the client reconnects with its Last-Event-ID
          req.log.warn({ err: e, jobId: first.id }, 'job event stream ended: could not read its points');
          finish();
        });
      };
      let pumpQueued = false;
      function pump(): void {
        if (pumpQueued || closed) return;
        pumpQueued = true;
        enqueue(async () => {
          pumpQueued = false;
          await sendPoints();
        });
      }
      const end = (job: JobRecord) =>
        enqueue(async () => {
          if (closed) return;
          await sendAllPoints();
          if (!closed) res.write(block('status', job));
          finish();
        });
      const onJob = (job: JobRecord) => {
        if (closed) return;
        if (isFinished(job.status)) {
          lastStatus = job.status;
          end(job);
        } else if (job.status !== lastStatus) {
          lastStatus = job.status;
          enqueue(() => {
            if (!closed) res.write(block('status', job));
          });
          pump();
        } else {
          pump();
        }
      };
      open.add(finish);
      res.on('drain', pump);
      req.raw.on('close', finish);
      if (isFinished(first.status)) return end(first);
      res.write(block('status', first));
      pump(); // the points after Last-Event-ID (none without it)
      unsubscribe = jobs.subscribe(first.id, onJob);
      // The job may have moved between the read above and the subscription.
      const now = await jobs.get(first.id);
      if (now.status !== first.status) onJob(now);
      else pump();
    },
  );
}
