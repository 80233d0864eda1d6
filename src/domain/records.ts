// The records the service keeps — datasets, jobs, models — and their parts, defined once.
// TypeBox gives the validation schema, the OpenAPI component and the TypeScript type of each;
// the store, the services, the routes and the metrics all use these.
import { JobMetrics } from './metrics.js';
import { Type, type Static } from '@sinclair/typebox';
import { AliasName } from './aliases.js';
import { TrainingParams } from './training.js';

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601 UTC' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const FreeObject = Type.Object({}, { additionalProperties: true });

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const JobStatus = Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)));
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isFinished = (s: JobStatus) => FINISHED_STATUSES.includes(s);

export const Dataset = Type.Object(
  {
    id: Type.String({ examples: ['ds_3q2x9bK1yY0aQvTn'] }),
    name: Type.Union([Type.String(), Type.Null()]),
    dimension: Type.Integer({ examples: [64] }),
    tripletCount: Type.Integer(),
    sampleCount: Type.Integer(),
    labelCount: Type.Integer({ description: 'Distinct labels among the committed samples (0 without samples)' }),
    createdAt: Timestamp,
  },
  { $id: 'Dataset' },
);
export type DatasetRecord = Static<typeof Dataset>;

/** The phases a job's progress reports, in the order a training job goes through them. */
export const JOB_PHASES = ['loading', 'initialising', 'training', 'validating', 'saving'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

export const Progress = Type.Object({
  iteration: Type.Integer({
    description:
      'Training: the step reached (with `normalize: auto`, the further of the two ways inside the trial). Reindex jobs: the items embedded so far',
  }),
  maxIterations: Type.Integer({ description: 'Training: the most steps. Reindex jobs: the items to embed' }),
  loss: Type.Optional(
    Type.Number({
      description:
        'Training loss: full objective (triplets) or the running mean over recent batches (mining); absent when it was not a finite number (the job then fails with NON_FINITE_TRAINING)',
    }),
  ),
  gradientNorm: Type.Optional(Type.Number({ description: 'Absent when it was not a finite number' })),
  activeFraction: Type.Number(),
  elapsedMs: Type.Number(),
  learningRate: Type.Optional(Type.Number({ description: 'Adam: the scheduled learning rate' })),
  validationLoss: Type.Optional(
    Type.Number({
      description:
        'Mined samples: latest validation figures; the triplet ones absent when the validation samples form no triplet',
    }),
  ),
  validationTripletAccuracy: Type.Optional(Type.Number()),
  precisionAt1: Type.Optional(
    Type.Number({ description: 'Absent, with rPrecision and mapAtR, when no validation label appears twice (0071)' }),
  ),
  rPrecision: Type.Optional(Type.Number()),
  mapAtR: Type.Optional(Type.Number()),
  validationIteration: Type.Optional(Type.Integer({ description: 'Step of the validation figures above' })),
  bestIteration: Type.Optional(Type.Integer({ description: 'Step of the W that would be kept now' })),
  warning: Type.Optional(Type.String({ description: 'e.g. a collapse warning from the latest validation' })),
  normalizeTrialSteps: Type.Optional(
    Type.Integer({
      description:
        '`normalize: auto` with validation on held-out labels: steps up to this one train unit-norm and plain embeddings side by side, each step costing about two; present while both ways train',
    }),
  ),
  phase: Type.Optional(
    Type.Union(
      JOB_PHASES.map((p) => Type.Literal(p)),
      {
        description:
          'What the job is doing: `loading` (reading its data, sent as soon as it is claimed), `initialising` (the starting W), `training`, `validating`, `saving` (writing the model or committing the gallery)',
      },
    ),
  ),
  etaMs: Type.Union([Type.Number(), Type.Null()], {
    description:
      'Estimated milliseconds to maxIterations at the iteration rate of this run (an upper bound when early stopping is on). Always present: null while it cannot be estimated (before two training points differ) and when nothing is left to estimate (`loading`, `initialising`, `saving`)',
  }),
});
export type JobProgress = Static<typeof Progress>;
/** A progress point as reported or written: etaMs may be left out (readers see null then). */
export type ReportedProgress = Omit<JobProgress, 'etaMs'> & { etaMs?: number | null };

/** One stored progress point of a job (GET /jobs/:id/events, JSON): `seq` is also its SSE `id:`. */
export const JobEvent = Type.Object(
  {
    seq: Type.Integer({ description: 'Increases within the job; pass it as `after` (or `Last-Event-ID`) to read on' }),
    createdAt: Timestamp,
    progress: Progress,
  },
  { $id: 'JobEvent' },
);
export type JobEvent = Static<typeof JobEvent>;

/** Progress fields every record has; the rest are optional and dropped when not finite. */
const REQUIRED_PROGRESS = ['iteration', 'maxIterations', 'activeFraction', 'elapsedMs'] as const;

/**
 * Any stored or reported progress → one that serialises: numbers that are not finite (NaN and
 * ±Infinity from a diverging job, or the null an older version stored for them) are dropped, or
 * 0 for the fields every record has, etaMs null; anything but an object is no progress (null).
 */
export function finiteProgress(raw: unknown): JobProgress | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (typeof v === 'number' ? Number.isFinite(v) : typeof v === 'string') out[key] = v;
  }
  for (const key of REQUIRED_PROGRESS) if (typeof out[key] !== 'number') out[key] = 0;
  // always present: null when unknown (points an older version stored have none)
  if (typeof out.etaMs !== 'number') out.etaMs = null;
  return out as JobProgress;
}

/**
 * Metrics as stored: non-finite numbers (which JSON would turn into null) are dropped, at any depth;
 * arrays keep their length (a non-finite entry becomes null there).
 */
export function finiteMetrics<T>(value: T): T {
  if (typeof value === 'number') return (Number.isFinite(value) ? value : undefined) as T;
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'number' && !Number.isFinite(v) ? null : finiteMetrics(v))) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const f = finiteMetrics(v);
    if (f !== undefined) out[key] = f;
  }
  return out as T;
}

export const JobError = Type.Object({ code: Type.String(), message: Type.String() });
export type JobError = Static<typeof JobError>;

export const JOB_KINDS = ['train', 'reindex'] as const;
export const JobKind = Type.Union(
  JOB_KINDS.map((k) => Type.Literal(k)),
  {
    description:
      '`train`: learns a model from a dataset (`datasetId`, `params`); `reindex`: embeds every item of a gallery with another model and switches the gallery to it (`reindex`)',
  },
);
export type JobKind = (typeof JOB_KINDS)[number];

/** What a reindex job moves: which gallery, from which model to which. */
export const ReindexTarget = Type.Object(
  {
    galleryId: Type.String(),
    modelId: Type.String({ description: 'The model the gallery moves to when the job commits' }),
    fromModelId: Type.String({ description: 'The model the gallery was on when the job was created' }),
  },
  { $id: 'ReindexTarget' },
);
export type ReindexTarget = Static<typeof ReindexTarget>;

export const Job = Type.Object(
  {
    id: Type.String({ examples: ['job_Hk2m0aP9cQe1xV3b'] }),
    status: JobStatus,
    kind: JobKind,
    datasetId: Type.Union([Type.String(), Type.Null()], {
      description: 'The dataset a training job trains on; null for a reindex job',
    }),
    params: Type.Union([TrainingParams, Type.Null()], {
      description: 'The parameters of a training job; null for a reindex job',
    }),
    reindex: Type.Union([ReindexTarget, Type.Null()], {
      description: 'What a reindex job moves; null for a training job',
    }),
    progress: Type.Union([Progress, Type.Null()]),
    metrics: Type.Union([JobMetrics, Type.Null()]),
    modelId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([JobError, Type.Null()]),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    finishedAt: NullableTimestamp,
    attempts: Type.Integer({
      minimum: 0,
      description:
        'Times a runner started the job; over 1 when a replica stopped or died mid-job and the job was taken up again',
    }),
    resumedFromIteration: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      description:
        'The iteration of the checkpoint the latest attempt resumed from; null when it started from zero (docs/training.md)',
    }),
    modelName: Type.Union([Type.String(), Type.Null()], {
      description: 'The name its model gets (POST /train modelName)',
    }),
    promote: Type.Boolean({ description: 'Whether its success moves the alias `default` to its model' }),
  },
  { $id: 'Job' },
);
export type JobRecord = Static<typeof Job>;
/** A job of one kind, its fields narrowed: a training job has a dataset and parameters, a reindex job a target. */
export type TrainJobRecord = JobRecord & { kind: 'train'; datasetId: string; params: TrainingParams; reindex: null };
export type ReindexJobRecord = JobRecord & { kind: 'reindex'; datasetId: null; params: null; reindex: ReindexTarget };
export const isTrainJob = (job: JobRecord): job is TrainJobRecord => job.kind === 'train';
export const isReindexJob = (job: JobRecord): job is ReindexJobRecord => job.kind === 'reindex';

export const Model = Type.Object(
  {
    id: Type.String({ examples: ['mdl_b7Qn2cX0pL4sR8tW'] }),
    jobId: Type.Union([Type.String(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    inputDimension: Type.Integer({ examples: [64] }),
    outputDimension: Type.Integer({ examples: [16] }),
    normalize: Type.Boolean(),
    trainingParams: Type.Union([TrainingParams, Type.Null()], {
      description: 'The parameters the model was trained with (margin, loss, distance, …); null for an imported model',
    }),
    metrics: JobMetrics,
    createdAt: Timestamp,
  },
  { $id: 'Model' },
);
export type ModelRecord = Static<typeof Model>;

/** An alias: a name that points to one model (src/domain/aliases.ts has its rules). */
export const Alias = Type.Object(
  {
    name: AliasName,
    model: Type.String({ description: 'The model id the alias points to', examples: ['mdl_b7Qn2cX0pL4sR8tW'] }),
    previousModel: Type.Union([Type.String(), Type.Null()], {
      description:
        'The model it pointed to before its latest change (that model may since be deleted); null when never moved',
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { $id: 'Alias' },
);
export type AliasRecord = Static<typeof Alias>;
