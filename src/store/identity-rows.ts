// What both backends share for identity-level data: the label cursor, the reply an idempotent
// commit records, and the record of a stored key (docs/decisions/0034-identity-level-data.md).
import { invalidError } from '../domain/errors.js';
import type { CommitCount, IdempotentWrite, Label, LabelCount, Page } from './types.js';

/** A label list's cursor: the last label of the page, as base64url of its JSON. */
export const encodeLabelCursor = (label: Label): string => Buffer.from(JSON.stringify(label)).toString('base64url');

/** The label to list after; undefined without a cursor. */
export function decodeLabelCursor(cursor: string | undefined): Label | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    v = undefined;
  }
  if ((typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isSafeInteger(v))) return v;
  throw invalidError('INVALID_CURSOR', `cursor "${cursor}" is not one this service issued`);
}

/** One page of labels fetched with limit + 1. */
export function labelPage(rows: LabelCount[], limit: number): Page<LabelCount> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, nextCursor: more ? encodeLabelCursor(items[items.length - 1].label) : null };
}

/** The reply an idempotent commit records: its body with the counts as the commit left the dataset (gallery). */
export function replyOf(once: IdempotentWrite, after: Partial<Record<CommitCount, unknown>>): Record<string, unknown> {
  const reply = { ...once.reply };
  for (const [field, from] of Object.entries(once.counts ?? {})) reply[field] = after[from];
  return reply;
}

/** The label counts of a batch, each label once, in first-seen order (1 and "1" apart). */
export function countLabels(labels: readonly Label[]): LabelCount[] {
  const counts = new Map<string, LabelCount>();
  for (const label of labels) {
    const key = `${typeof label}:${label}`;
    const c = counts.get(key);
    if (c) c.sampleCount++;
    else counts.set(key, { label, sampleCount: 1 });
  }
  return [...counts.values()];
}
