// Shared by the evaluate-verification tests: the scikit-learn route fixtures
// (test/fixtures-gen/evaluate_reference.py), uploads, model import and the comparisons.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { App } from '../../src/app-types.js';
import { close, createDataset } from '../helpers.js';
import { SHARED } from '../math/helpers.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/verification/', import.meta.url));

export interface RouteReference {
  body: Record<string, unknown>;
  X?: number[][];
  labels?: number[];
  W?: number[][];
  verification: {
    genuineCount: number;
    impostorCount: number;
    genuineTotal: number;
    impostorTotal: number;
    tarAtFar: { far: number; tar: number | null; threshold: number | null }[];
    eer: number;
    eerThreshold: number;
    auc: number;
    curve?: { far: number; tar: number }[];
  };
  identification?: {
    unknownLabels: number[];
    knownProbeCount: number;
    unknownProbeCount: number;
    cmc: { rank: number; rate: number }[];
    openSet: { far: number; dir: number | null; threshold: number | null }[];
  };
}

export const fixture = (name: string) => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as RouteReference;

export async function upload(app: App, X: number[][], labels: (number | string)[]): Promise<string> {
  const id = await createDataset(app, X[0].length);
  const samples = X.map((vector, i) => ({ vector, label: labels[i] }));
  const r = await app.inject({ method: 'POST', url: `/datasets/${id}/samples`, payload: { samples } });
  if (r.statusCode !== 201) throw new Error(`upload failed: ${r.body}`);
  return id;
}

export async function importModel(app: App, W: number[][]): Promise<string> {
  const r = await app.inject({ method: 'POST', url: '/models', payload: { W } });
  if (r.statusCode !== 201) throw new Error(`import failed: ${r.body}`);
  return r.json().id;
}

export const evaluate = (app: App, model: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: `/models/${model}/evaluate`, payload });

export const identity = (d: number) =>
  Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => +(i === j)));

/** train.csv then test.csv of the shared digits, as the reference reads them. */
export function digits(): { X: number[][]; labels: number[] } {
  const X: number[][] = [];
  const labels: number[] = [];
  for (const name of ['train.csv', 'test.csv']) {
    const lines = readFileSync(`${SHARED}/data/digits/${name}`, 'utf8').trim().split('\n').slice(1);
    for (const line of lines) {
      const row = line.split(',').map(Number);
      labels.push(row[0]);
      X.push(row.slice(1));
    }
  }
  return { X, labels };
}

export function compareVerification(t: Test, got: any, want: RouteReference['verification']) {
  t.equal(got.distance, 'euclidean');
  t.equal(got.genuineCount, want.genuineCount, 'genuine pairs');
  t.equal(got.impostorCount, want.impostorCount, 'impostor pairs');
  t.equal(got.genuineTotal, want.genuineTotal);
  t.equal(got.impostorTotal, want.impostorTotal);
  t.equal(got.tarAtFar.length, want.tarAtFar.length);
  want.tarAtFar.forEach((w, i) => {
    const g = got.tarAtFar[i];
    t.equal(g.far, w.far);
    if (w.tar === null) {
      t.equal(g.tar, null, `FAR ${w.far}: unsupported`);
      t.match(g.reason, /^needs at least \d+ impostor pairs, has \d+$/);
      return;
    }
    t.ok(Math.abs(g.tar - w.tar) <= 1e-3, `TAR@${w.far}: ${g.tar} vs sklearn ${w.tar}`);
    if (w.threshold === null) t.equal(g.threshold, null);
    else close(t, g.threshold, w.threshold, 1e-9, `threshold@${w.far}`);
    t.equal(g.reason, null);
  });
  t.ok(Math.abs(got.eer - want.eer) <= 1e-3, `EER ${got.eer} vs sklearn ${want.eer}`);
  close(t, got.eerThreshold, want.eerThreshold, 1e-9, 'EER threshold');
  t.ok(Math.abs(got.auc - want.auc) <= 1e-6, `AUC ${got.auc} vs sklearn ${want.auc}`);
}

export function compareIdentification(t: Test, got: any, want: NonNullable<RouteReference['identification']>) {
  t.same(got.unknownLabels, want.unknownLabels, 'the labels held out, by name');
  t.equal(got.knownProbeCount, want.knownProbeCount);
  t.equal(got.unknownProbeCount, want.unknownProbeCount);
  t.same(
    got.cmc.map((c: any) => [c.rank, c.rate]),
    want.cmc.map((c) => [c.rank, c.rate]),
    'CMC',
  );
  want.openSet.forEach((w, i) => {
    const g = got.openSet[i];
    t.equal(g.far, w.far);
    if (w.dir === null) t.equal(g.dir, null, `open set at ${w.far}: unsupported`);
    else {
      close(t, g.dir, w.dir, 1e-12, `DIR@${w.far}`);
      close(t, g.threshold, w.threshold!, 1e-9, `open-set threshold@${w.far}`);
    }
  });
}
