import { Type, type Static } from '@sinclair/typebox';
import { Timestamp, Vector } from './common.js';

export const Dataset = Type.Object(
  {
    id: Type.String({ examples: ['ds_3q2x9bK1yY0aQvTn'] }),
    name: Type.Union([Type.String(), Type.Null()]),
    dimension: Type.Integer({ examples: [64] }),
    tripletCount: Type.Integer(),
    sampleCount: Type.Integer(),
    createdAt: Timestamp,
  },
  { $id: 'Dataset' },
);

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

export const TripletsBody = Type.Object(
  { triplets: Type.Array(Triplet, { minItems: 1 }) },
  {
    additionalProperties: false,
    description:
      'application/json. Also accepted: application/x-ndjson (one triplet object per line, streamed) and ' +
      'application/octet-stream (little-endian float32, n × 3 × dimension: anchor, positive, negative back to back).',
  },
);
export type TripletsBody = Static<typeof TripletsBody>;
export type TripletInput = Static<typeof Triplet>;

export const AppendReply = Type.Object({
  added: Type.Integer({ examples: [2] }),
  tripletCount: Type.Integer({ examples: [2] }),
});
