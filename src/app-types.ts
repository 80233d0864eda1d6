import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Compute } from './compute/index.js';
import type { Config } from './config.js';
import type { JobRunner } from './jobs/runner.js';
import type { AliasService } from './services/aliases.js';
import type { DatasetService } from './services/datasets.js';
import type { EvaluationService } from './services/evaluation.js';
import type { GalleryService } from './services/galleries.js';
import type { HealthService } from './services/health.js';
import type { IdempotencyService } from './services/idempotency.js';
import type { JobService } from './services/jobs.js';
import type { ModelService } from './services/models.js';
import type { ReindexService } from './services/reindex.js';
import type { ServingService } from './services/serving.js';
import type { Store } from './store/types.js';

export interface Services {
  store: Store;
  datasets: DatasetService;
  jobs: JobService;
  models: ModelService;
  aliases: AliasService;
  serving: ServingService;
  galleries: GalleryService;
  evaluation: EvaluationService;
  reindex: ReindexService;
  runner: JobRunner;
  health: HealthService;
  /** Idempotency-Key on uploads */
  idempotency: IdempotencyService;
  /** the HTTP thread's kernels (and their helper threads), closed with the app */
  compute: Compute;
}

export interface AppState {
  /** set once the metrics plugin is registered */
  metrics?: import('./plugins/metrics.js').Metrics;
  /** false once shutdown has begun: /readyz answers 503 */
  ready: boolean;
  /** what the HTTP layer holds now, for the gauges of /metrics (set as each part is built) */
  http: {
    /** open connections */
    connections?: () => number;
    /** request bodies still arriving (watched for BODY_IDLE_TIMEOUT_MS) */
    bodiesArriving?: () => number;
    /** bytes held by binary bodies and streamed uploads, against STAGED_BYTES_LIMIT */
    stagedBytes?: () => number;
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    services: Services;
    state: AppState;
    /** 503 OVERLOADED while it says so; /readyz and /metrics read it */
    shedder: import('./http/load-shedder.js').LoadShedder;
  }
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression<RawServerDefault>,
  RawReplyDefaultExpression<RawServerDefault>,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;
