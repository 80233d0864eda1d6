import { Type, type Static } from '@sinclair/typebox';
import { ModelName } from '../domain/aliases.js';
import { Model } from '../domain/records.js';

export { Model };

export const Weights = Type.Object({
  rows: Type.Integer({ description: 'k' }),
  cols: Type.Integer({ description: 'd' }),
  normalize: Type.Boolean(),
  W: Type.Array(Type.Array(Type.Number()), { description: 'Row-major, k rows of d numbers' }),
});

export const ImportModelBody = Type.Object(
  {
    W: Type.Array(Type.Array(Type.Number(), { minItems: 1 }), { minItems: 1, description: 'k rows of d numbers' }),
    normalize: Type.Optional(Type.Boolean({ default: false })),
    name: Type.Optional(ModelName),
  },
  { additionalProperties: false },
);
export type ImportModelBody = Static<typeof ImportModelBody>;

export const RenameModelBody = Type.Object(
  { name: Type.Union([ModelName, Type.Null()], { description: 'The new name; null removes it' }) },
  { additionalProperties: false },
);
export type RenameModelBody = Static<typeof RenameModelBody>;

/** A model named by id or alias, where a route reads a model. */
export const ModelRefParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128, description: 'A model id, or an alias' }),
});

export const EvaluateBody = Type.Object(
  {
    datasetId: Type.String(),
    margin: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'Default: the margin the model was trained with (its trainingParams), else the training default',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EvaluateBody = Static<typeof EvaluateBody>;

const NullableNumber = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

export const EvaluateReply = Type.Object({
  model: Type.String({ description: 'The id of the model evaluated (an alias in the path resolved to it)' }),
  loss: NullableNumber("Mean hinge loss over the dataset's triplets (no weight decay); null without triplets"),
  tripletAccuracy: NullableNumber('Share of triplets with d(a,p) < d(a,n) (squared distances)'),
  activeFraction: NullableNumber('Share of triplets inside the margin'),
  count: Type.Integer({ description: 'Triplets evaluated' }),
  margin: Type.Number(),
  precisionAt1: Type.Optional(
    Type.Number({ description: 'Labelled samples: leave-one-out precision@1 (Musgrave et al. 2020)' }),
  ),
  rPrecision: Type.Optional(Type.Number({ description: 'Labelled samples: R-precision' })),
  mapAtR: Type.Optional(Type.Number({ description: 'Labelled samples: MAP@R' })),
  sampleCount: Type.Optional(Type.Integer({ description: 'Labelled samples scored' })),
});
