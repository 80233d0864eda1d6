// Model references and aliases, defined once. A request names a model by its id (mdl_…) or by an
// alias, a stable name that points to one model id and moves only when asked to
// (docs/decisions/0030-model-aliases.md). `default` is the alias a request without `model` uses.
import { Type } from '@sinclair/typebox';

/** Every model id starts with this (src/store/ids.ts); no alias may, so a reference is never ambiguous. */
export const MODEL_ID_PREFIX = 'mdl_';
/** The alias a request that names no model uses. */
export const DEFAULT_ALIAS = 'default';
/** A letter or digit, then up to 63 letters, digits, dots, underscores or hyphens; never a model id's prefix. */
export const ALIAS_NAME_PATTERN = '^(?!mdl_)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** Names given to models and datasets: at most this many characters. */
export const NAME_MAX_LENGTH = 200;

export const isModelId = (ref: string): boolean => ref.startsWith(MODEL_ID_PREFIX);

export const AliasName = Type.String({
  pattern: ALIAS_NAME_PATTERN,
  description: `An alias: ${ALIAS_NAME_PATTERN} (1–64 characters; never starting with \`${MODEL_ID_PREFIX}\`, which model ids start with)`,
  examples: ['default', 'faces-v2'],
});

/** A model's name (free text, not unique; aliases are the stable names). */
export const ModelName = Type.String({ maxLength: NAME_MAX_LENGTH });
