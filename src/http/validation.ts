// The one Ajv configuration for request data, used by Fastify for every schema'd body, query
// and path, and by the NDJSON decoder for each line, so a line is held to the very rules its
// JSON-body twin is.
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { badRequest } from '../errors.js';

/**
 * Request bodies are validated strictly: no type coercion and unknown fields rejected, since a
 * silently dropped or coerced field is a wrong model later. Query strings and params are text,
 * so those may be coerced to their declared types. Numbers must be finite: JSON reads 1e309 as
 * Infinity, and a schema's `number` would let it reach code that assumes a finite value; the
 * refusal is 400 NON_FINITE_VALUE naming the field (nonFinite and finiteText below).
 */
function requestAjv(part: 'body' | 'text'): Ajv {
  return new Ajv({
    removeAdditional: false,
    useDefaults: true,
    strict: false,
    allErrors: false,
    coerceTypes: part === 'text',
    // Not for text: Ajv coerces "1e400" to Infinity and then, under strictNumbers, skips the
    // number's other keywords (maximum) instead of failing it. Text is checked after (finiteText).
    strictNumbers: part === 'body',
  });
}

/** The value at a JSON pointer ("/a/0/b") under v. */
function at(v: unknown, pointer: string): unknown {
  let x = v;
  for (const raw of pointer.split('/').slice(1)) {
    if (x === null || typeof x !== 'object') return undefined;
    x = (x as Record<string, unknown>)[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return x;
}

/** ±Infinity, as JSON reads 1e309 (a string where a number belongs is a type error, not this). */
const nonFiniteNumber = (x: unknown): x is number => typeof x === 'number' && !Number.isFinite(x);

/**
 * The error when validation failed on a number that is not finite (a type error, or a bound such as
 * a `maximum` it passes); the field named by `name`.
 */
function nonFinite(errors: ErrorObject[], data: unknown, name: (pointer: string) => string) {
  for (const e of errors) {
    const v = at(data, e.instancePath);
    if (nonFiniteNumber(v))
      return badRequest('NON_FINITE_VALUE', `${name(e.instancePath)} must be a finite number (got ${v})`);
  }
  return null;
}

/** A query or params object's first value that coercion made a non-finite number, as the refusal. */
function finiteText(data: unknown, part: string) {
  if (data === null || typeof data !== 'object') return null;
  for (const [k, v] of Object.entries(data)) {
    for (const x of Array.isArray(v) ? v : [v])
      if (nonFiniteNumber(x)) return badRequest('NON_FINITE_VALUE', `${part}.${k} must be a finite number (got ${x})`);
  }
  return null;
}

/** Fastify's validator compiler (setValidatorCompiler), one Ajv for bodies and one for text. */
export function validators() {
  const body = requestAjv('body');
  const text = requestAjv('text');
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) => {
    const validate = (httpPart === 'body' ? body : text).compile(schema);
    const part = httpPart ?? 'body';
    // The parent passed through (Fastify passes it when schemaEnv is set) lets Ajv coerce or fill a root value.
    const checked = (data: unknown, parent?: { parentData: object; parentDataProperty: string }) => {
      if (parent ? validate(data, parent as never) : validate(data)) {
        const error = part === 'body' ? null : finiteText(data, part);
        return error ? { error } : true;
      }
      const error = nonFinite(validate.errors ?? [], data, (p) => part + fieldPath(p));
      if (error) return { error };
      checked.errors = validate.errors;
      return false;
    };
    checked.errors = null as ErrorObject[] | null | undefined;
    checked.schemaEnv = validate.schemaEnv;
    return checked;
  };
}

/** Checks one value against a schema, throwing a 400 VALIDATION_ERROR that starts with `where`. */
export type ValueCheck<T> = (value: unknown, where: string) => asserts value is T;

const lineAjv = requestAjv('body');

/** Compiles schema once, as a JSON body's item would be, into a check that names the failing field. */
export function compileCheck<S extends TSchema>(schema: S): ValueCheck<Static<S>> {
  const validate = lineAjv.compile(schema);
  return (value, where) => {
    if (validate(value)) return;
    const errors = validate.errors ?? [];
    throw (
      nonFinite(errors, value, (p) => where + fieldPath(p)) ?? badRequest('VALIDATION_ERROR', describe(errors, where))
    );
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
