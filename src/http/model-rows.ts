// /embed and /distances rows → float32 for a model: JSON number rows or base64 float32 rows, each
// checked against the model's input dimension.
import { badRequest } from '../errors.js';
import type { Rows } from '../services/serving.js';
import type { LoadedModel } from '../services/models.js';
import { decodeBase64Row, packRows, writeRow } from './rows.js';

export type Encoding = 'float' | 'base64';

const owner = (m: LoadedModel) => `model ${m.record.id}`;

/** /embed's inputs: number rows, or base64 strings of float32 rows with `"encoding": "base64"`. */
export function inputRows(inputs: (number[] | string)[], encoding: Encoding, m: LoadedModel): Rows {
  const d = m.d;
  const data = new Float32Array(inputs.length * d);
  for (let i = 0; i < inputs.length; i++) {
    const row = inputs[i];
    if (encoding === 'base64') {
      if (typeof row !== 'string')
        throw badRequest('VALIDATION_ERROR', `inputs[${i}] must be a base64 string when encoding is base64`);
      decodeBase64Row(row, data, i * d, d, `inputs[${i}]`, owner(m));
    } else {
      if (typeof row === 'string')
        throw badRequest(
          'VALIDATION_ERROR',
          `inputs[${i}] must be an array of numbers (set "encoding": "base64" for strings)`,
        );
      writeRow(row, data, i * d, d, `inputs[${i}]`, owner(m));
    }
  }
  return { data, count: inputs.length };
}

/** A JSON matrix field (/distances' a and b) as float32 rows for m. */
export function vectorRows(rows: number[][], m: LoadedModel, field: string): Rows {
  return { data: packRows(rows, m.d, field, owner(m)), count: rows.length };
}
