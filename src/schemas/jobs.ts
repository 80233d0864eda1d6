// POST /train's body and the job routes' shapes. The training options and the job record are
// the domain's (src/domain/training.ts, src/domain/records.ts); this file only composes them.
import { Type, type Static, type TOptional, type TSchema } from '@sinclair/typebox';
import { Job, JobStatus, Progress, JobError } from '../domain/records.js';
import { JobModelOptions, TrainingOptions } from '../domain/training.js';
import { Triplet } from './datasets.js';

export { Job, JobStatus, Progress, JobError };

type Options = typeof TrainingOptions;
type OptionalOptions = { [K in Exclude<keyof Options, 'outputDimension'>]: TOptional<Options[K]> };

const optional = Object.fromEntries(
  Object.entries(TrainingOptions)
    .filter(([key]) => key !== 'outputDimension')
    .map(([key, schema]) => [key, Type.Optional(schema as TSchema)]),
) as OptionalOptions;

/** Everything /train accepts; unknown fields are rejected. Defaults live in src/domain/training.ts. */
export const TrainBody = Type.Object(
  {
    datasetId: Type.Optional(Type.String({ description: 'Dataset to train on. Give this or `triplets`.' })),
    triplets: Type.Optional(
      Type.Array(Triplet, { minItems: 1, description: 'A small inline training set, stored as a new dataset' }),
    ),
    outputDimension: TrainingOptions.outputDimension,
    ...optional,
    modelName: Type.Optional(JobModelOptions.modelName),
    promote: Type.Optional(JobModelOptions.promote),
  },
  {
    additionalProperties: false,
    examples: [
      { datasetId: 'ds_3q2x9bK1yY0aQvTn', outputDimension: 16, normalize: true, weightDecay: 0.0001, seed: 7 },
      { datasetId: 'ds_3q2x9bK1yY0aQvTn', outputDimension: 64, mining: 'semihard+batchhard', maxIterations: 3000 },
    ],
  },
);
export type TrainBody = Static<typeof TrainBody>;

/** POST /galleries/:id/reindex. */
export const ReindexBody = Type.Object(
  { model: Type.String({ minLength: 1, maxLength: 256, description: 'The model to move to: an id or an alias' }) },
  { additionalProperties: false, examples: [{ model: 'mdl_b7Qn2cX0pL4sR8tW' }] },
);
export type ReindexBody = Static<typeof ReindexBody>;

export const JobsQuery = Type.Object(
  {
    status: Type.Optional(JobStatus),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type JobsQuery = Static<typeof JobsQuery>;
