import { Type, type Static } from '@sinclair/typebox';
import { AliasName } from '../domain/aliases.js';
import { Alias } from '../domain/records.js';

export { Alias };

export const AliasParams = Type.Object({ name: AliasName });

export const PutAliasBody = Type.Object(
  {
    model: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'A model id, or another alias (the model id it points to now is stored)',
      examples: ['mdl_b7Qn2cX0pL4sR8tW'],
    }),
  },
  { additionalProperties: false },
);
export type PutAliasBody = Static<typeof PutAliasBody>;
