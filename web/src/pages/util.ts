// Pieces the pages share: lists fetched whole, a failure shown in the live region, polling.
import { api } from '../api.js';
import { say, settle } from '../dom.js';
import type { Dataset, Gallery, Model, Page } from '../types.js';

export const models = async (): Promise<Model[]> => (await api<Page<Model>>('GET', '/models?limit=1000')).items;
export const datasets = async (): Promise<Dataset[]> => (await api<Page<Dataset>>('GET', '/datasets?limit=1000')).items;
export const galleries = async (): Promise<Gallery[]> =>
  (await api<Page<Gallery>>('GET', '/galleries?limit=1000')).items;

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
