// The one Ajv configuration for request data, used by Fastify for every schema'd body, query
// and path, and by the NDJSON decoder for each line, so a line is held to the very rules its
// JSON-body twin is.
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { badRequest } from '../errors.js';

/**
 * Request bodies are validated strictly: no type coercion and unknown fields rejected, since a
 * silently dropped or coerced field is a wrong model later. Query strings and params are text,
 * so those may be coerced to their declared types.
 */
function requestAjv(part: 'body' | 'text'): Ajv {
  return new Ajv({
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    allErrors: false,
    coerceTypes: part === 'text',
  });
}

/** Fastify's validator compiler (setValidatorCompiler), one Ajv for bodies and one for text. */
export function validators() {
  const body = requestAjv('body');
  const text = requestAjv('text');
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? body : text).compile(schema);
}

/** Checks one value against a schema, throwing a 400 VALIDATION_ERROR that starts with `where`. */
export type ValueCheck<T> = (value: unknown, where: string) => asserts value is T;

const lineAjv = requestAjv('body');

/** Compiles schema once, as a JSON body's item would be, into a check that names the failing field. */
export function compileCheck<S extends TSchema>(schema: S): ValueCheck<Static<S>> {
  const validate = lineAjv.compile(schema);
  return (value, where) => {
    if (!validate(value)) throw badRequest('VALIDATION_ERROR', describe(validate.errors ?? [], where));
  };
}

/** "/anchor/1" → ".anchor[1]" */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('');
}

/**
 * The first error, worded for a person. A union's branches each report an error before the
 * union's own; those are joined, so a label says it must be a string or an integer.
 */
function describe(errors: ErrorObject[], where: string): string {
  const first = errors[0];
  if (first === undefined) return `${where} is not valid`;
  const at = where + fieldPath(first.instancePath);
  if (first.keyword === 'additionalProperties')
    return `${at} has an unknown field "${String(first.params.additionalProperty)}"`;
  if (first.keyword === 'required') return `${at} must have property "${String(first.params.missingProperty)}"`;
  const union = errors.findIndex((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  if (union > 0 && errors[union].instancePath === first.instancePath) {
    return `${at} ${errors
      .slice(0, union)
      .map((e) => e.message)
      .join(', or ')}`;
  }
  return `${at} ${first.message ?? 'is not valid'}`;
}
