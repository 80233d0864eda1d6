// buildApp(config): the one place that wires store, services, runner, plugins and routes.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { App, Services } from './app-types.js';
import type { Config } from './config.js';
import { errorHandler, frameworkErrorHandler } from './error-handler.js';
import { AppError, errorBody } from './errors.js';
import { BodyGuard } from './http/body-guard.js';
import { guardConnections, serverOptions } from './http/connections.js';
import { LoadShedder } from './http/load-shedder.js';
import { reqSerializer } from './http/log-redaction.js';
import { refuseNulInUrl } from './http/nul.js';
import { JobRunner } from './jobs/runner.js';
import type { ReindexBackend } from './jobs/reindex.js';
import { makeAuthHook, OPEN_PATHS } from './plugins/auth.js';
import consolePlugin from './plugins/console.js';
import { makeAllowedHostsHook } from './plugins/allowed-hosts.js';
import { makeCrossOriginHook } from './plugins/cross-origin.js';
import bodyParsers from './http/body-parsers.js';
import { validators } from './http/validation.js';
import { registerMetrics } from './plugins/metrics.js';
import { nameOperation } from './plugins/operation-ids.js';
import { keepRepliesPrivate } from './http/private-replies.js';
import datasetRoutes from './routes/datasets.js';
import healthRoutes from './routes/health.js';
import jobEventRoutes from './routes/job-events.js';
import jobRoutes from './routes/jobs.js';
import aliasRoutes from './routes/aliases.js';
import reindexRoutes from './routes/reindex.js';
import modelRoutes from './routes/models.js';
import servingRoutes from './routes/serving.js';
import galleryRoutes from './routes/galleries.js';
import { ErrorSchema } from './schemas/common.js';
import { AliasService, aliasLog } from './services/aliases.js';
import { DatasetService } from './services/datasets.js';
import { EvaluationService } from './services/evaluation.js';
import { JobService } from './services/jobs.js';
import { ModelService } from './services/models.js';
import { ReindexService } from './services/reindex.js';
import { checkSearchable, ServingService } from './services/serving.js';
import { GalleryService } from './services/galleries.js';
import { HealthService } from './services/health.js';
import { IdempotencyService } from './services/idempotency.js';
import { createServingCompute, type Compute } from './compute/index.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export const DB_FILE = 'triplet-embed.sqlite';

export interface BuildOptions {
  /** pino options or false; tests pass false */
  logger?: FastifyServerOptions['logger'];
  /** start the job runner (default true) */
  runJobs?: boolean;
  /** the load shedder's sample period in ms (default 1000); tests take samples themselves */
  loadSampleMs?: number;
}

function buildServices(config: Config, app: App, store: Store, compute: Compute): Services {
  // The store's change feed tells the model cache of every model written or deleted. PostgreSQL's
  // hears every replica; SQLite's hears this process only, which is every writer for a lone `all`
  // (an api and a worker on one file look the newest model up again after a second, as they
  // also do on PostgreSQL while its feed is down).
  const shared = config.databaseUrl !== undefined || config.role !== 'all';
  const feedSeesEveryWriter = config.databaseUrl !== undefined || config.role === 'all';
  const logAlias = aliasLog(app.log);
  const models = new ModelService(store, config.limits, shared ? 1000 : Infinity, feedSeesEveryWriter, logAlias);
  store.watch((change) => {
    if (change.kind === 'lost') app.log.warn({ reason: change.reason }, 'store change feed down');
    else if (change.kind === 'resync') app.log.info({ reason: change.reason }, 'store change feed resynced');
  });
  const datasets = new DatasetService(store, config.limits);
  const serving = new ServingService(models, config.limits, compute.kernels);
  const runner = new JobRunner({
    store,
    concurrency: config.trainConcurrency,
    compute: config.compute,
    heapMb: config.jobHeapLimitMb,
    spareWorker: config.jobSpareWorker,
    memoryBudgetMb: config.limits.jobMemoryBudgetMb,
    leaseMs: config.jobLeaseMs,
    checkpointIntervalMs: config.checkpointIntervalMs,
    log: app.log,
    onModelCreated: () => models.invalidateAliases(),
    logAlias,
    reindex: reindexBackend(store, models, serving, config.reindexBatchItems),
  });
  // A job another replica queued is claimed when the feed tells of it, not at the next start.
  store.watch((change) => {
    if (change.kind === 'resync' || (change.kind === 'change' && change.table === 'jobs' && change.op === 'insert'))
      runner.pump();
  });
  return {
    store,
    models,
    aliases: new AliasService(store, models, logAlias),
    datasets,
    runner,
    compute,
    health: new HealthService(store),
    idempotency: new IdempotencyService(store, config.idempotencyTtlMs),
    jobs: new JobService(store, datasets, runner, config.limits),
    serving,
    galleries: new GalleryService(store, models, serving, config.limits, compute.kernels, (id) => runner.cancel(id)),
    reindex: new ReindexService(store, models, runner, config.limits),
    evaluation: new EvaluationService(store, models, datasets, config.compute, config.limits),
  };
}

/**
 * What reindex jobs run against: the store's gallery methods, and the serving kernels through the
 * model cache, so a reindexed embedding is the one an upload under that model stores (0033).
 */
function reindexBackend(
  store: Store,
  models: ModelService,
  serving: ServingService,
  batchItems: number,
): ReindexBackend {
  return {
    batchItems,
    itemCount: async (id) => (await store.getGallery(id))?.itemCount,
    readUnindexed: (g, job, limit) => store.readUnindexed(g, job, limit),
    writeReindexBatch: (g, job, batch) => store.writeReindexBatch(g, job, batch),
    commit: (job, g, owner, metrics, progress) => store.succeedReindexJob(job, g, owner, metrics, progress),
    abortReindex: (g, job) => store.abortReindex(g, job),
    modelShape: async (id) => {
      const m = await models.get(id);
      return { d: m.inputDimension, k: m.outputDimension };
    },
    embed: async (id, X, n) => {
      const m = await models.load(id);
      return checkSearchable((await serving.embedInSlices(m, X, n)).data, n, m.k, 'the batch’s item');
    },
  };
}

/**
 * JSON logs for machines (pretty ones only for a person at a terminal); the Authorization
 * header and secret-looking query parameters never reach them.
 */
export function loggerOptions(config: Config, opts: { pretty?: boolean } = {}): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
    serializers: { req: reqSerializer },
    ...(opts.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
}

/**
 * The connection cap (503 CONNECTION_LIMIT past MAX_CONNECTIONS, probes excepted), and every
 * request body watched by a BodyGuard while it arrives (408 on a stalled body, client aborts, shutdown).
 */
function guardBodies(app: App, config: Config): void {
  const connections = guardConnections(app.server, config.connections, app.log);
  const bodies = new BodyGuard(config.connections.bodyIdleTimeoutMs);
  app.state.http.connections = connections.open;
  app.state.http.bodiesArriving = () => bodies.size;
  // Callback hooks, not async ones: they run on every request, and a promise each is measurable.
  app.addHook('onRequest', (req, reply, done) => {
    if (!OPEN_PATHS.has(req.url.split('?')[0]) && connections.refuseOverCap(req, reply)) return;
    done();
  });
  app.addHook('preParsing', (req, _reply, payload, done) => done(null, bodies.wrap(req.raw, payload)));
  // A reply sent while its body still arrives closes the connection (the body is never read).
  app.addHook('onSend', (req, reply, payload, done) => {
    if (bodies.arriving(req.raw)) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (req, _reply, done) => {
    bodies.finish(req.raw);
    done();
  });
  app.addHook('onClose', async () => bodies.close());
  // At shutdown, bodies still arriving are ended (503) rather than waited for.
  app.addHook('preClose', async () =>
    bodies.abortAll(
      () =>
        new AppError(503, 'SHUTTING_DOWN', 'the service is shutting down; send the request again', {
          'retry-after': '1',
          connection: 'close',
        }),
    ),
  );
}

/**
 * 503 OVERLOADED while the shedder says so (probes and scrapes still answer). It measures from
 * the moment the server listens, so start-up is not counted as overload; /readyz asks it too.
 */
function shedLoad(app: App, shedder: LoadShedder): void {
  app.decorate('shedder', shedder);
  app.server.once('listening', () => shedder.start());
  app.addHook('onClose', async () => shedder.stop());
  app.addHook('onRequest', (req, reply, done) => {
    const overload = shedder.overload();
    if (overload === undefined || OPEN_PATHS.has(req.url.split('?')[0])) return done();
    reply
      .code(503)
      .header('retry-after', '1')
      .send(errorBody(503, 'OVERLOADED', `the service is overloaded (${overload}); retry after 1 s`));
  });
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    bodyLimit: config.limits.bodyLimit,
    // Honour the caller's request id (a proxy's or the client's) so logs join up across services.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Router-level failures (bad %-escapes, over-long ids) get the contract's error shape too.
    frameworkErrors: frameworkErrorHandler,
    // Long enough for any id up to the schemas' 128 characters to reach validation.
    routerOptions: { maxParamLength: 256 },
    // Deeply nested JSON is never a valid body here; refuse it before it costs stack.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Header, request and keep-alive timeouts, and Node's own refusals in the contract's shape.
    ...serverOptions(config.connections),
  }).withTypeProvider<TypeBoxTypeProvider>() as App;
  app.decorate('state', { ready: false, http: {} });
  // First, so that every reply after it (refusals in onRequest hooks too) is no-store and nosniff.
  keepRepliesPrivate(app);
  guardBodies(app, config);

  app.setValidatorCompiler(validators());
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  // A name this service does not answer to is refused before anything else reads the request.
  if (config.allowedHosts.length > 0) app.addHook('onRequest', makeAllowedHostsHook(config.allowedHosts));
  // CORS first, so preflight requests are answered before authentication asks for a key.
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
      methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposedHeaders: ['location', 'x-request-id', 'x-model-id', 'x-rows', 'x-dimension', 'retry-after'],
      maxAge: 600,
    });
  }
  // After CORS (an allowed origin's preflight is answered there), before the key is asked for.
  app.addHook('onRequest', makeCrossOriginHook(config.corsOrigins));
  if (config.apiKeys.length > 0) app.addHook('onRequest', makeAuthHook(config.apiKeys));
  // Every route's path parameters and query string, before a store is asked (src/http/nul.ts).
  refuseNulInUrl(app);
  shedLoad(app, new LoadShedder(config.overload, options.loadSampleMs));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send(errorBody(404, 'ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)),
  );
  app.decorate('config', config);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    sqliteFile: path.join(config.dataDir, DB_FILE),
    eraseVacuum: config.eraseVacuum,
  });
  app.decorate('services', buildServices(config, app, store, createServingCompute(config.compute)));
  // Every body parser and codec: src/http (JSON, float32 JSON, staged binary, raw NDJSON/binary streams)
  await app.register(bodyParsers);
  app.addSchema(ErrorSchema);
  app.addHook('onRoute', nameOperation);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'triplet-embed',
        version: '0.1.0',
        license: { name: 'MIT' },
        description:
          'Learns a linear embedding f(x) = W x from (anchor, positive, negative) triplets with the hinged triplet loss, ' +
          'trains in background workers, and serves embeddings and distances.',
      },
      // Relative: Swagger UI sends its requests to the origin it was loaded from, whatever host serves it.
      servers: [{ url: '/', description: 'The server this document was loaded from' }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description:
              'Needed on every route but the health routes, /metrics and the API docs (/docs, /openapi.json) when API_KEYS is set',
          },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'datasets', description: 'Datasets and their triplets' },
        { name: 'training', description: 'Training jobs' },
        { name: 'models', description: 'Learned and imported maps, and their aliases' },
        { name: 'serving', description: 'Embeddings and distances' },
        { name: 'galleries', description: 'Stored galleries and their exact search' },
        { name: 'operations', description: 'Health and docs' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}` },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes);
  app.state.metrics = registerMetrics(app);
  // A worker replica trains and answers health and metrics; the API is served by the others.
  if (config.role !== 'worker') {
    await app.register(datasetRoutes);
    await app.register(jobRoutes);
    await app.register(jobEventRoutes);
    await app.register(reindexRoutes);
    await app.register(modelRoutes);
    await app.register(aliasRoutes);
    await app.register(servingRoutes);
    await app.register(galleryRoutes);
    await app.register(consolePlugin);
  }

  app.addHook('onReady', async () => {
    if (options.runJobs !== false && config.role !== 'api') await app.services.runner.start();
    app.state.ready = true;
  });
  app.addHook('preClose', async () => {
    app.state.ready = false;
    // Park running jobs before waiting for connections: an open event stream must not keep
    // a job training through the shutdown.
    await app.services.runner.close();
  });
  app.addHook('onClose', async () => {
    await app.services.runner.close();
    await app.services.galleries.close();
    await app.services.compute.close();
    await app.services.store.close();
  });
  return app;
}
