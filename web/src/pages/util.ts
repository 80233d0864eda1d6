// Pieces the pages share: lists fetched whole, a failure shown in the live region, polling.
import { api } from '../api.js';
import { say } from '../dom.js';
import type { Dataset, Gallery, Model, Page } from '../types.js';

export const models = async (): Promise<Model[]> => (await api<Page<Model>>('GET', '/models?limit=1000')).items;
export const datasets = async (): Promise<Dataset[]> => (await api<Page<Dataset>>('GET', '/datasets?limit=1000')).items;
export const galleries = async (): Promise<Gallery[]> =>
  (await api<Page<Gallery>>('GET', '/galleries?limit=1000')).items;

export const modelText = (m: Model): string =>
  `${m.name ? `${m.name} · ` : ''}${m.id} (${m.inputDimension}→${m.outputDimension})`;

/** Runs an action, reporting its failure instead of throwing. */
export async function attempt(what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    say(`${what} failed: ${(e as Error).message}`, 'error');
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
