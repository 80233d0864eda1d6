import { randomBytes } from 'node:crypto';

/** Opaque ids with a readable prefix: ds_, job_, mdl_, up_, gal_. */
export function newId(prefix: 'ds' | 'job' | 'mdl' | 'up' | 'gal'): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
