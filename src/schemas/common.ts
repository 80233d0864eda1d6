import { Type, type TSchema } from '@sinclair/typebox';

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer({ examples: [400] }),
    code: Type.String({ description: 'Stable machine-readable error code', examples: ['DIMENSION_MISMATCH'] }),
    error: Type.String({ examples: ['Bad Request'] }),
    message: Type.String({ examples: ['inputs[3] has 63 values, model mdl_x expects 64'] }),
  },
  { $id: 'Error', description: 'Every error reply has this shape.' },
);

export const Vector = Type.Array(Type.Number(), { minItems: 1, description: 'A vector of finite numbers' });
export const Matrix = Type.Array(Vector, { description: 'Row-major matrix: one vector per row' });

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const ListOf = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass as ?cursor= for the next page; null on the last page',
    }),
  });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input',
  401: 'Missing or wrong API key',
  404: 'Unknown id',
  409: 'Conflicting state',
  413: 'Body or batch too large',
  415: 'Unsupported content type',
  422: 'Well-formed but cannot be carried out',
  429: 'Too many requests',
  503: 'Shutting down or overloaded',
};

/** Error replies for a route's response map, all with the one Error shape. */
export function errors(...codes: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const c of codes) out[c] = Type.Ref(ErrorSchema, { description: ERROR_DESCRIPTIONS[c] ?? 'Error' });
  return out;
}

export { FreeObject, NullableTimestamp, Timestamp } from '../domain/records.js';
