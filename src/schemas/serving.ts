import { Type, type Static } from '@sinclair/typebox';
import { Matrix } from './common.js';

const MODEL_FIELD = 'A model id or an alias; default: the alias `default` (unset: 409 NO_MODEL)';
const RESOLVED = 'The id of the model used (an alias resolved to it)';

const Row = Type.Union([Type.Array(Type.Number()), Type.String({ contentEncoding: 'base64' })], {
  description:
    'A vector of numbers, or with `"encoding": "base64"` a base64 string of its little-endian float32 bytes. ' +
    'Numbers are used as float32: the float32 nearest the float64 the JSON text stands for.',
});

export const EmbedBody = Type.Object(
  {
    model: Type.Optional(Type.String({ description: MODEL_FIELD })),
    inputs: Type.Array(Row, { minItems: 1 }),
    encoding: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')], { default: 'float' })),
  },
  {
    additionalProperties: false,
    examples: [
      { inputs: [[0.12, -0.5, 1.3, 0.02]] },
      { model: 'mdl_b7Qn2cX0pL4sR8tW', encoding: 'base64', inputs: ['j8L1PQAAAL9mZqY/CtejPA=='] },
    ],
    description:
      'Also accepted: application/octet-stream, n×d little-endian float32 with ?model=&rows=. ' +
      'Send Accept: application/octet-stream for an n×k float32 reply with X-Model-Id, X-Rows and X-Dimension headers.',
  },
);
export type EmbedBody = Static<typeof EmbedBody>;

export const EmbedQuery = Type.Object(
  {
    model: Type.Optional(Type.String({ description: MODEL_FIELD })),
    rows: Type.Optional(Type.Integer({ minimum: 1, description: 'Binary requests only: must equal bytes / (4·d)' })),
  },
  { additionalProperties: false },
);
export type EmbedQuery = Static<typeof EmbedQuery>;

export const EmbedReply = Type.Object({
  model: Type.String({ description: RESOLVED }),
  dimension: Type.Integer(),
  embeddings: Type.Array(Row, {
    description:
      'One row per input. Values are float32: each number has the 8 or 9 significant digits that round back to exactly that float32 ' +
      '(magnitudes from 1e-14 to 1e30; outside that, perhaps the float64 text of the float32)',
  }),
});
export type EmbedReply = Static<typeof EmbedReply>;

export const Metric = Type.Union(
  [Type.Literal('euclidean'), Type.Literal('squared_euclidean'), Type.Literal('cosine')],
  { default: 'euclidean' },
);

export const DistancesBody = Type.Object(
  {
    model: Type.Optional(Type.String({ description: MODEL_FIELD })),
    a: Type.Array(Type.Array(Type.Number(), { minItems: 1 }), { minItems: 1 }),
    b: Type.Optional(Type.Array(Type.Array(Type.Number(), { minItems: 1 }), { minItems: 1 })),
    metric: Type.Optional(Metric),
  },
  {
    additionalProperties: false,
    examples: [
      {
        a: [[0.1, 0.2, 0.3, 0.4]],
        b: [
          [0.1, 0.2, 0.3, 0.5],
          [1, 0, 0, 0],
        ],
        metric: 'cosine',
      },
    ],
  },
);
export type DistancesBody = Static<typeof DistancesBody>;

export const DistancesReply = Type.Object({
  model: Type.String({ description: RESOLVED }),
  metric: Type.String(),
  distances: Matrix,
});
