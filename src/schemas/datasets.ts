import { Type, type Static } from '@sinclair/typebox';
import { Dataset } from '../domain/records.js';
import { Vector } from './common.js';

export { Dataset };

export const CreateDatasetBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    dimension: Type.Integer({ minimum: 1, description: 'Length of every vector in the dataset', examples: [64] }),
  },
  { additionalProperties: false },
);
export type CreateDatasetBody = Static<typeof CreateDatasetBody>;

export const Triplet = Type.Object(
  { anchor: Vector, positive: Vector, negative: Vector },
  { additionalProperties: false },
);

export const IndexTriplet = Type.Array(Type.Integer({ minimum: 0 }), {
  minItems: 3,
  maxItems: 3,
  description: "[anchor, positive, negative] as indices into the dataset's samples, in upload order",
});

export const TripletsBody = Type.Object(
  {
    triplets: Type.Optional(Type.Array(Triplet, { minItems: 1 })),
    indexTriplets: Type.Optional(Type.Array(IndexTriplet, { minItems: 1 })),
  },
  {
    additionalProperties: false,
    description:
      'Exactly one of `triplets` (vectors) and `indexTriplets` (sample indices). Also accepted: application/x-ndjson ' +
      '(one triplet object per line, streamed) and application/octet-stream (little-endian float32, n × 3 × dimension: ' +
      'anchor, positive, negative back to back).',
  },
);
export type TripletsBody = Static<typeof TripletsBody>;
export type TripletInput = Static<typeof Triplet>;

export const Label = Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Integer()], {
  description: 'A class label: a string or an integer',
});

export const Sample = Type.Object({ vector: Vector, label: Label }, { additionalProperties: false });
export type SampleInput = Static<typeof Sample>;

export const SamplesBody = Type.Object(
  { samples: Type.Array(Sample, { minItems: 1 }) },
  {
    additionalProperties: false,
    description:
      'application/json. Also accepted: application/x-ndjson (one {"vector","label"} object per line) and ' +
      'application/octet-stream (per sample: a little-endian int32 label, then dimension float32 values).',
  },
);
export type SamplesBody = Static<typeof SamplesBody>;

export const AppendSamplesReply = Type.Object({
  added: Type.Integer({ examples: [2] }),
  sampleCount: Type.Integer({ examples: [2] }),
});

export const AppendReply = Type.Object({
  added: Type.Integer({ examples: [2] }),
  tripletCount: Type.Integer({ examples: [2] }),
});

export const LabelCount = Type.Object(
  {
    label: Label,
    sampleCount: Type.Integer({ description: 'Committed samples with this label', examples: [12] }),
  },
  { $id: 'LabelCount' },
);

export const EraseLabelQuery = Type.Object(
  {
    label: Type.String({ minLength: 1, maxLength: 256, description: 'The label whose samples are erased' }),
    labelType: Type.Optional(
      Type.Union([Type.Literal('string'), Type.Literal('integer')], {
        default: 'string',
        description: 'Whether `label` names a string label or an integer one (1 and "1" are different labels)',
      }),
    ),
  },
  { additionalProperties: false },
);
export type EraseLabelQuery = Static<typeof EraseLabelQuery>;

export const EraseLabelReply = Type.Object({
  label: Label,
  samplesErased: Type.Integer({ examples: [16] }),
  tripletsErased: Type.Integer({
    description: 'Triplets that held an erased sample: index triplets that used one, or a byte-equal copy of one',
    examples: [3],
  }),
  dataset: Dataset,
});
