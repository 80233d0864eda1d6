// Pieces the pages share: lists read page by page, a failure shown in the live region, polling.
import { api, enc } from '../api.js';
import { say, settle } from '../dom.js';
import type { Alias, Dataset, Gallery, Model, Page } from '../types.js';

/** The most items the API gives in one page (`?limit=` is 1 to 1000). */
export const PAGE_LIMIT = 1000;

/**
 * The first `count` items of a list (all of them by default), read page by page through
 * `nextCursor`, and whether more follow. One page was read before, so past 1,000 models, datasets
 * or galleries the rest were silently missing from every table and choice.
 */
export async function listFirst<T>(path: string, count = Infinity): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  const sep = path.includes('?') ? '&' : '?';
  let cursor: string | null = null;
  do {
    const limit = Math.min(PAGE_LIMIT, count - items.length);
    const after: string = cursor === null ? '' : `&cursor=${enc(cursor)}`;
    const page: Page<T> = await api<Page<T>>('GET', `${path}${sep}limit=${limit}${after}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && items.length < count);
  return { items, more: cursor !== null };
}

const all = async <T>(path: string): Promise<T[]> => (await listFirst<T>(path)).items;
export const models = (): Promise<Model[]> => all('/models');
export const datasets = (): Promise<Dataset[]> => all('/datasets');
export const galleries = (): Promise<Gallery[]> => all('/galleries');
export const aliases = (): Promise<Alias[]> => all('/aliases');

export const modelText = (m: Model): string =>
  `${m.name ? `${m.name} · ` : ''}${m.id} (${m.inputDimension}→${m.outputDimension})`;

/** Runs an action, reporting its failure instead of throwing, and clearing that report once it works. */
export async function attempt(what: string, fn: () => Promise<void>): Promise<boolean> {
  try {
    await fn();
    settle(what);
    return true;
  } catch (e) {
    say(`${what} failed: ${(e as Error).message}`, 'error', what);
    return false;
  }
}

/** Calls fn now and every ms while the page is shown; returns the stop function. */
export function every(ms: number, fn: () => Promise<void>): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    await attempt('Refreshing', fn);
    if (!stopped) timer = setTimeout(tick, ms);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Loads what a page shows: tried again every ms after a failure (the service restarting, a proxy
 * between), until it works or the page is left, so that a page opened while the service was away
 * does not say "Loading…" for good. Returns the stop function.
 */
export function untilDone(what: string, fn: () => Promise<void>, ms = 3000): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    if (stopped || (await attempt(what, fn))) return;
    if (!stopped) timer = setTimeout(run, ms);
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
