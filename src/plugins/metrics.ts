// Prometheus metrics on GET /metrics: HTTP traffic, embed batch sizes, jobs by status,
// training speed, what the HTTP layer holds against its budgets, the load shedder's state and
// the process's own figures. One registry per app: no global state.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { App } from '../app-types.js';
import { JOB_STATUSES, type JobRecord } from '../domain/records.js';
import type { ShedderState } from '../http/load-shedder.js';

export interface Metrics {
  registry: Registry;
  embedBatch: Histogram;
}

export function registerMetrics(app: App): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers,
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const embedBatch = new Histogram({
    name: 'triplet_embed_embed_batch_size',
    help: 'Vectors per /embed request',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    registers,
  });
  const { jobs, health, runner } = app.services;
  new Gauge({
    name: 'triplet_embed_jobs',
    help: 'Training jobs by status',
    labelNames: ['status'],
    registers,
    async collect() {
      if (!health.storeReady()) return;
      try {
        for (const s of JOB_STATUSES) this.set({ status: s }, await jobs.count(s));
      } catch {
        // The database is down: scrapes must still answer (that is when they matter), without these.
        this.reset();
      }
    },
  });
  // Iterations per second of each running job, from its latest progress report.
  const speed = new Map<string, number>();
  runner.events.on('job', (job: JobRecord) => {
    if (job.status !== 'running') speed.delete(job.id);
    else if (job.progress && job.progress.elapsedMs > 0)
      speed.set(job.id, (job.progress.iteration * 1000) / job.progress.elapsedMs);
  });
  new Gauge({
    name: 'triplet_embed_training_iterations_per_second',
    help: 'Optimiser iterations per second, summed over running jobs',
    registers,
    collect() {
      let sum = 0;
      for (const v of speed.values()) sum += v;
      this.set(sum);
    },
  });
  new Gauge({
    name: 'triplet_embed_running_jobs',
    help: 'Jobs training in worker threads of this process',
    registers,
    collect() {
      this.set(runner.activeCount);
    },
  });

  // What the HTTP layer holds, against its budgets (docs/operations.md, Budgets).
  const { http } = app.state;
  const gauge = (name: string, help: string, read: (() => number) | undefined) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read?.() ?? 0);
      },
    });
  gauge('triplet_embed_open_connections', 'Open HTTP connections (against MAX_CONNECTIONS)', http.connections);
  gauge(
    'triplet_embed_bodies_arriving',
    'Request bodies still arriving (watched for BODY_IDLE_TIMEOUT_MS)',
    http.bodiesArriving,
  );
  gauge(
    'triplet_embed_staged_body_bytes',
    'Bytes held by binary bodies and streamed uploads (against STAGED_BYTES_LIMIT)',
    http.stagedBytes,
  );
  const shedderStates: ShedderState[] = ['off', 'starting', 'ok', 'overloaded'];
  new Gauge({
    name: 'triplet_embed_load_shedder_state',
    help: 'The load shedder: 1 for its current state (overloaded: requests get 503 OVERLOADED)',
    labelNames: ['state'],
    registers,
    collect() {
      for (const s of shedderStates) this.set({ state: s }, app.shedder.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'triplet_embed_event_loop_delay_seconds',
    help: "Mean event-loop delay over the load shedder's last sample (against MAX_EVENT_LOOP_DELAY_MS)",
    registers,
    collect() {
      this.set(app.shedder.delayMs / 1000);
    },
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route, status_code: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    if (route === '/embed' && reply.statusCode === 200) {
      // Binary replies say their rows in X-Rows; JSON requests carry them as inputs.
      const inputs = (req.body as { inputs?: unknown[] } | undefined)?.inputs;
      const rows = Number(reply.getHeader('x-rows')) || (Array.isArray(inputs) ? inputs.length : 0);
      if (rows > 0) embedBatch.observe(rows);
    }
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description: 'Text exposition format. Open without an API key, like the health routes.',
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text format' } },
      },
    },
    async (_req, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    },
  );

  return { registry, embedBatch };
}
