import { Type, type Static } from '@sinclair/typebox';
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
    name: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type ImportModelBody = Static<typeof ImportModelBody>;

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
