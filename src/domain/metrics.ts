// What a job's and a model's `metrics` hold, for the OpenAPI document and its readers. The math core
// computes them (src/math/types.ts TrainMetrics, src/math/mining/types.ts MinedTrainMetrics and
// ValidationFigures); the compile-time checks at the end keep this schema in step with those types.
// Open (additionalProperties): a field the core adds later is still passed through.
import { Type, type Static } from '@sinclair/typebox';
import type { StopReason, TrainMetrics } from '../math/types.js';
import type { MinedTrainMetrics, ReportedValidationFigures } from '../math/mining/types.js';

const STOP_REASONS = [
  'max_iterations',
  'gradient_tolerance',
  'no_progress',
  'line_search_failed',
  'zero_loss',
  'cancelled',
] as const satisfies readonly StopReason[];

// Null allowed: rows an older version stored may hold null where a number was not finite.
const num = (description: string) => Type.Optional(Type.Union([Type.Number(), Type.Null()], { description }));
const int = (description: string) => Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description }));

export const JobMetrics = Type.Object(
  {
    trainLoss: num('Training loss of the returned W (full objective, or the mean over the last batches when mining)'),
    iterations: int('Iterations (optimizer steps) run'),
    functionEvaluations: int('Objective evaluations, line searches included'),
    activeFraction: num('Share of training triplets inside the margin'),
    gradientNorm: num('Norm of the last gradient'),
    stopReason: Type.Optional(
      Type.Union(
        STOP_REASONS.map((r) => Type.Literal(r)),
        { description: 'Why it stopped' },
      ),
    ),
    meanEmbeddingDistance: num('Mean pairwise distance of a sample of training embeddings; near 0 means collapse'),
    weightNorm: num('‖W‖_F'),
    warnings: Type.Optional(Type.Array(Type.String(), { description: 'Diagnostics, e.g. a collapse' })),
    trainCount: int('Training triplets (fixed triplets)'),
    validationCount: int('Validation triplets (fixed triplets)'),
    validationActiveFraction: num('Share of validation triplets inside the margin'),
    validationSplit: Type.Optional(
      Type.Union([Type.Literal('labels'), Type.Literal('samples'), Type.Literal('none')], {
        description: 'Mined training: how validation samples were held out',
      }),
    ),
    trainSamples: int('Mined training: samples trained on'),
    trainLabels: int('Mined training: labels trained on'),
    validationSamples: int('Mined training: samples held out'),
    validationLabels: int('Mined training: labels held out'),
    bestIteration: int('Mined training: the step whose W is returned'),
    earlyStopped: Type.Optional(Type.Boolean({ description: 'Mined training: stopped by early stopping' })),
    samplesSeen: int('Mined training: sample visits (Σ batch sizes)'),
    normalized: Type.Optional(
      Type.Boolean({
        description:
          'Mined training: whether the embeddings are unit-norm (the request, or what `normalize: "auto"` chose)',
      }),
    ),
    normalizeEvidence: Type.Optional(
      Type.Object(
        {
          by: Type.Optional(
            Type.Union([Type.Literal('start'), Type.Literal('validation')], {
              description:
                '`validation`: both ways trained the first `steps` steps and the better validation `metric` went on; ' +
                '`start` (no validation, or validation on held-out samples of the training labels): the start map’s ' +
                'leave-one-out precision@1 on the training samples. ' +
                'Absent for jobs that chose before the trial',
            }),
          ),
          plain: Type.Union([Type.Number(), Type.Null()], {
            description:
              'the figure of plain embeddings (see `by`); null when the validation samples have nothing for it ' +
              'to average (a retrieval figure and validationQueryCount 0, or no triplet): the tie kept unit norm',
          }),
          unit: Type.Union([Type.Number(), Type.Null()], { description: 'the same for unit-norm embeddings' }),
          z: Type.Optional(
            Type.Number({
              description:
                "By start: McNemar's z (continuity-corrected) of plain over unit on the queries only one of them finds; plain embeddings when z ≥ 2",
            }),
          ),
          metric: Type.Optional(
            Type.String({
              description: 'By validation: the figure compared, the validationMetric (mapAtR for validationLoss)',
            }),
          ),
          steps: Type.Optional(Type.Integer({ description: 'By validation: the steps each way trained' })),
        },
        {
          description: 'Mined training with `normalize: "auto"`: the evidence it chose by',
        },
      ),
    ),
    learningRate: num(
      'Mined training: Adam\'s base learning rate that ran, the request\'s or what `learningRate: "auto"` made of the start map',
    ),
    startPullGate: num(
      "Mined training with a start pull: the gate in [0, 1] scaling it, the start map's leave-one-out precision@1 " +
        "on the training samples above chance, times the share it keeps of the raw features' own",
    ),
    startPullLambda: num('Mined training with a start pull: its λ, startPull · gate / pairs of training labels'),
    startZ: num(
      "Mined training with validation: the paired z of the start map's per-query validation figure over the best " +
        'trained W’s (average precision for a loss or TAR metric). At 2 or more, over at least 10 queries from 3 ' +
        'held-out labels, training made the map worse on the held-out samples and the start is returned: ' +
        '`bestIteration` 0 and a warning',
    ),
    validationLoss: num('Loss on the validation set; null (mined training) when its samples form no triplet'),
    validationTripletAccuracy: num('Share of validation triplets with d(a,p) < d(a,n); null when there is none'),
    precisionAt1: num(
      'Validation precision@1; null when validationQueryCount is 0 (no validation label twice: nothing to measure, ' +
        'docs/decisions/0071)',
    ),
    rPrecision: num('Validation R-precision; null when validationQueryCount is 0'),
    mapAtR: num('Validation MAP@R; null when validationQueryCount is 0'),
    validationQueryCount: int(
      'Mined training with validation: validation samples with another sample of their label, the queries the ' +
        'retrieval figures average over',
    ),
    validationTarAtFar: num('Validation TAR at the FAR of a tar@far validationMetric'),
    itemsEmbedded: int('Reindex jobs: items embedded with the new model'),
    elapsedMs: num('Reindex jobs: wall time'),
  },
  { additionalProperties: true, description: 'What the job measured; fields by kind of job, all optional' },
);
export type JobMetrics = Static<typeof JobMetrics>;

// Compile-time: every field the core reports is described above, with a compatible type.
type Reported = TrainMetrics & Omit<MinedTrainMetrics, 'validation'> & ReportedValidationFigures;
type Undescribed = Exclude<keyof Reported, keyof JobMetrics>;
const _everyFieldDescribed: [Undescribed] extends [never] ? true : Undescribed = true;
const _compatible = (r: Reported): JobMetrics => r;
void _everyFieldDescribed;
void _compatible;
