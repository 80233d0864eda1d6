// Datasets and galleries: counts, labels, creation, a dropped file uploaded with a progress bar,
// and a search try-out that lists a chosen item's nearest neighbours with their distances.
import { api, enc } from '../api.js';
import { field, fill, h, options, say, table, userText } from '../dom.js';
import type { Dataset, Gallery } from '../types.js';
import { dropZone } from './drop-zone.js';
import { searchForm } from './search-form.js';
import { attempt, datasets, galleries, listFirst, modelText, models, untilDone } from './util.js';

type Label = { label: string | number; sampleCount: number };

/** Labels listed at first, and how many more each "Show more labels" adds. */
const LABELS_STEP = 100;

/** After more labels are shown, the focus goes to the next button, or to the list when none is left. */
const keepFocus = (labels: HTMLElement) => (labels.querySelector<HTMLElement>('.more button') ?? labels).focus();

function datasetsCard(list: Dataset[], labels: HTMLElement, reload: () => void): HTMLElement {
  const showLabels = (d: Dataset, count = LABELS_STEP): Promise<boolean> =>
    attempt('Listing labels', async () => {
      const page = await listFirst<Label>(`/datasets/${enc(d.id)}/labels`, count);
      const next = h(
        'button',
        { type: 'button', onclick: () => void showLabels(d, count + LABELS_STEP).then(() => keepFocus(labels)) },
        `Show ${LABELS_STEP} more labels`,
      );
      labels.hidden = false;
      fill(
        labels,
        table(
          `Labels of ${d.name ?? d.id}${page.more ? ` (the first ${page.items.length})` : ''}`,
          ['Label', 'Samples'],
          page.items.map((l) => [userText(String(l.label)), l.sampleCount]),
        ),
        page.more ? h('p', { class: 'more' }, next) : null,
      );
    });
  const name = h('input', { type: 'text', name: 'name', maxlength: 200 });
  const dimension = h('input', { type: 'number', name: 'dimension', min: 1, required: true, value: 16 });
  const create = h(
    'form',
    {
      class: 'inline',
      'aria-label': 'New dataset',
      onsubmit: (e) => {
        e.preventDefault();
        void attempt('Creating the dataset', async () => {
          const body: Record<string, unknown> = { dimension: Number(dimension.value) };
          if (name.value.trim()) body.name = name.value.trim();
          const d = await api<Dataset>('POST', '/datasets', body);
          say(`Dataset ${d.id} created`);
          reload();
        });
      },
    },
    field('Name', name),
    field('Dimension', dimension),
    h('button', { type: 'submit' }, 'Create dataset'),
  );
  const rows = list.map((d) => [
    d.id,
    d.name === null ? '–' : userText(d.name),
    d.dimension,
    d.tripletCount,
    d.sampleCount,
    d.labelCount,
    h('button', { type: 'button', onclick: () => void showLabels(d) }, `Labels of ${d.name ?? d.id}`),
  ]);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'datasets-title' },
    h('h2', { id: 'datasets-title' }, 'Datasets'),
    list.length === 0
      ? h('p', {}, 'No datasets yet.')
      : table('Datasets', ['Dataset', 'Name', 'Dimension', 'Triplets', 'Samples', 'Labels', ''], rows),
    create,
  );
}

async function galleriesCard(list: Gallery[], reload: () => void): Promise<HTMLElement> {
  const all = await models();
  const model = options(
    h('select', { name: 'model' }),
    all.map((m) => ({ value: m.id, text: modelText(m) })),
  );
  const name = h('input', { type: 'text', name: 'name', maxlength: 200 });
  const create = h(
    'form',
    {
      class: 'inline',
      'aria-label': 'New gallery',
      onsubmit: (e) => {
        e.preventDefault();
        void attempt('Creating the gallery', async () => {
          const body: Record<string, unknown> = { model: model.value };
          if (name.value.trim()) body.name = name.value.trim();
          const g = await api<Gallery>('POST', '/galleries', body);
          say(`Gallery ${g.id} created`);
          reload();
        });
      },
    },
    field('Name', name),
    field('Model', model),
    h('button', { type: 'submit', disabled: all.length === 0 }, 'Create gallery'),
  );
  const rows = list.map((g) => [
    g.id,
    g.name === null ? '–' : userText(g.name),
    g.model,
    g.dimension,
    g.itemCount,
    g.index,
    g.version,
  ]);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'galleries-title' },
    h('h2', { id: 'galleries-title' }, 'Galleries'),
    list.length === 0
      ? h('p', {}, 'No galleries yet.')
      : table('Galleries', ['Gallery', 'Name', 'Model', 'Dimension', 'Items', 'Index', 'Version'], rows),
    create,
  );
}

export function dataPage(main: HTMLElement): () => void {
  const top = h('div', {});
  // Outside the lists that a reload redraws, so the labels shown stay shown.
  const labels = h('section', { id: 'labels', class: 'card', 'aria-label': 'Labels', hidden: true, tabindex: -1 });
  const search = searchForm();
  const drop = dropZone(() => load(), search.offer);
  fill(main, h('h1', {}, 'Datasets and galleries'), top, labels, drop.el, search.el);
  const show = async () => {
    const [ds, gs] = await Promise.all([datasets(), galleries()]);
    fill(top, datasetsCard(ds, labels, load), await galleriesCard(gs, load));
    drop.targets(ds, gs);
    search.galleries(gs);
  };
  // Listed now and again after each change, each time tried until it works.
  let stop: () => void = () => undefined;
  const load = () => {
    stop();
    stop = untilDone('Listing datasets and galleries', show);
  };
  load();
  return () => stop();
}
