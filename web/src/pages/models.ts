// Models: their metrics, and an evaluation on a chosen dataset drawn as ROC curves (one model, or
// two overlaid), with TAR@FAR, EER and the distance threshold for a chosen FAR.
import { api, enc } from '../api.js';
import { rocChart } from '../charts.js';
import { field, fill, h, options, say, table, userText } from '../dom.js';
import { far, num, pct, when } from '../format.js';
import type { Alias, Dataset, Evaluation, Model } from '../types.js';
import { aliases, attempt, datasets, modelText, models, untilDone } from './util.js';

const DEFAULT_FARS = [1e-1, 1e-2, 1e-3, 1e-4];

function modelTable(list: Model[], aliasList: Alias[]): HTMLElement {
  const rows = list.map((m) => [
    m.id,
    m.name === null ? '–' : userText(m.name),
    `${m.inputDimension}→${m.outputDimension}`,
    // a trained model's `normalize: auto` is resolved here: the model says what it embeds with
    m.normalize ? 'unit norm' : 'plain',
    userText(
      aliasList
        .filter((a) => a.model === m.id)
        .map((a) => a.name)
        .join(', ') || '–',
    ),
    num(m.metrics.trainLoss),
    String(m.metrics.iterations ?? '–'),
    m.metrics.stopReason ?? '–',
    when(m.createdAt),
  ]);
  return table(
    'Models, newest first',
    ['Model', 'Name', 'd→k', 'Embeddings', 'Aliases', 'Train loss', 'Iterations', 'Stop reason', 'Created'],
    rows,
  );
}

function resultTable(results: Evaluation[], chosenFar: number): HTMLElement {
  const row = (label: string, f: (e: Evaluation) => string) => [label, ...results.map(f)];
  const v = (e: Evaluation) => e.verification;
  const at = (e: Evaluation, x: number) => v(e)?.tarAtFar.find((t) => t.far === x);
  const rows = [
    row('precision@1', (e) => pct(e.precisionAt1) + noQueries(e)),
    row('R-precision', (e) => pct(e.rPrecision) + noQueries(e)),
    row('MAP@R', (e) => pct(e.mapAtR) + noQueries(e)),
    row('Triplet accuracy', (e) => pct(e.tripletAccuracy)),
    row('Genuine / impostor pairs', (e) => (v(e) ? `${v(e)?.genuineCount} / ${v(e)?.impostorCount}` : '–')),
    row('EER', (e) => pct(v(e)?.eer)),
    row('Distance at EER', (e) => num(v(e)?.eerThreshold)),
    row('AUC', (e) => num(v(e)?.auc)),
    ...DEFAULT_FARS.map((x) => row(`TAR @ FAR ${far(x)}`, (e) => pct(at(e, x)?.tar) + reason(at(e, x)?.reason))),
    row(`Threshold for FAR ${far(chosenFar)}`, (e) => {
      const t = at(e, chosenFar);
      return t?.threshold === null || t === undefined
        ? `none${reason(t?.reason)}`
        : `accept distance ≤ ${num(t.threshold, 6)} (TAR ${pct(t.tar)})`;
    }),
  ];
  return table('Evaluation', ['Figure', ...results.map((e) => e.model)], rows);
}

const reason = (r: string | null | undefined) => (r ? ` (${r})` : '');
// a dash alone would not say why: no sample has another of its label to retrieve
const noQueries = (e: Evaluation) => reason(e.queryCount === 0 ? 'no label appears twice' : null);

function evaluateForm(list: Model[], sets: Dataset[], out: HTMLElement): HTMLElement {
  const a = options(
    h('select', { name: 'modelA' }),
    list.map((m) => ({ value: m.id, text: modelText(m) })),
  );
  const b = options(h('select', { name: 'modelB' }), [
    { value: '', text: 'none' },
    ...list.map((m) => ({ value: m.id, text: modelText(m) })),
  ]);
  const dataset = options(
    h('select', { name: 'datasetId' }),
    sets
      .filter((d) => d.sampleCount > 0)
      .map((d) => ({ value: d.id, text: `${d.name ?? d.id} (${d.sampleCount} samples, ${d.labelCount} labels)` })),
  );
  const chosen = h('input', { type: 'number', name: 'far', min: 0, max: 1, step: 'any', value: 0.001 });
  const button = h('button', { type: 'submit' }, 'Evaluate');
  return h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'eval-title',
      onsubmit: (e) => {
        e.preventDefault();
        const chosenFar = Number(chosen.value);
        const ids = [a.value, b.value].filter((x, i, all) => x && all.indexOf(x) === i);
        button.disabled = true;
        fill(out, h('p', {}, 'Evaluating…'));
        void attempt('Evaluating', async () => {
          const fars = [...new Set([...DEFAULT_FARS, chosenFar])].filter((x) => x > 0 && x < 1);
          const body = { datasetId: dataset.value, verification: { curve: true, fars } };
          const results: Evaluation[] = [];
          for (const id of ids) results.push(await api<Evaluation>('POST', `/models/${enc(id)}/evaluate`, body));
          const named = (id: string) => list.find((m) => m.id === id)?.name ?? id;
          const curves = results.map((r) => ({
            label: named(r.model),
            curve: r.verification?.curve ?? [],
            marks: r.verification?.tarAtFar ?? [],
            eer: r.verification?.eer ?? null,
          }));
          fill(
            out,
            rocChart(`ROC on ${dataset.value}`, curves),
            resultTable(results, chosenFar),
            ...results.map((r) => (r.verification?.reason ? h('p', {}, `${r.model}: ${r.verification.reason}`) : null)),
          );
          say('Evaluation done');
        }).finally(() => (button.disabled = false));
      },
    },
    h('h2', { id: 'eval-title' }, 'Evaluate and compare'),
    h(
      'div',
      { class: 'fields' },
      field('Model', a),
      field('Compare with', b),
      field('Dataset (labelled samples)', dataset),
      field('FAR for the threshold', chosen),
    ),
    button,
  );
}

export function modelsPage(main: HTMLElement): () => void {
  const list = h('div', { class: 'card' }, h('p', {}, 'Loading…'));
  const form = h('div', {});
  const out = h('section', { class: 'card', 'aria-label': 'Evaluation results', id: 'evaluation' });
  fill(main, h('h1', {}, 'Models'), list, form, out);
  return untilDone('Listing models', async () => {
    const [all, aliasList, sets] = await Promise.all([models(), aliases(), datasets()]);
    fill(
      list,
      all.length === 0 ? h('p', {}, 'No models yet: train one on the Jobs page.') : modelTable(all, aliasList),
    );
    if (all.length > 0) fill(form, evaluateForm(all, sets, out));
    else say('No models yet');
  });
}
