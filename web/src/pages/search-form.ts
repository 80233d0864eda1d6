// The search try-out: a query (a row of the last uploaded file, or typed features) and its nearest
// items in a gallery, with their distances.
import { api, enc } from '../api.js';
import { field, fill, h, options, say, table, userText } from '../dom.js';
import { num } from '../format.js';
import type { Gallery, Hit } from '../types.js';
import type { QueryRow } from '../upload.js';
import { attempt } from './util.js';

export function searchForm() {
  const gallery = h('select', { name: 'gallery' });
  const pick = h('select', { name: 'query-row' }, h('option', { value: '' }, 'upload an NDJSON file first'));
  const vector = h('textarea', { name: 'vector', rows: 3, cols: 60, placeholder: '[0.1, 0.2, …]' });
  const k = h('input', { type: 'number', name: 'k', min: 1, max: 1000, value: 5 });
  const out = h('div', { id: 'search-results' });
  let rows: QueryRow[] = [];
  pick.addEventListener('change', () => {
    const row = rows[Number(pick.value)];
    if (row) vector.value = JSON.stringify(row.vector);
  });
  const el = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'search-title',
      onsubmit: (e) => {
        e.preventDefault();
        void attempt('Searching', async () => {
          const input = JSON.parse(vector.value) as number[];
          const reply = await api<{ model: string; metric: string; results: Hit[][] }>(
            'POST',
            `/galleries/${enc(gallery.value)}/search`,
            { inputs: [input], k: Number(k.value) },
          );
          const hits = reply.results[0] ?? [];
          fill(
            out,
            table(
              `Nearest items (${reply.metric} distance, model ${reply.model})`,
              ['Rank', 'Item', 'Label', 'Distance'],
              hits.map((hit, i) => [
                i + 1,
                userText(hit.id),
                hit.label === null ? '–' : userText(String(hit.label)),
                num(hit.distance, 6),
              ]),
            ),
          );
          say(`${hits.length} neighbours found`);
        });
      },
    },
    h('h2', { id: 'search-title' }, 'Search try-out'),
    h(
      'div',
      { class: 'fields' },
      field('Gallery', gallery),
      field('Item from the uploaded file', pick),
      field('Query features (JSON array)', vector),
      field('Neighbours', k),
    ),
    h('button', { type: 'submit' }, 'Search'),
    out,
  );
  return {
    el,
    galleries(gs: Gallery[]) {
      options(
        gallery,
        gs.map((g) => ({ value: g.id, text: `${g.name ?? g.id} (${g.itemCount} items)` })),
      );
    },
    offer(next: QueryRow[]) {
      if (next.length === 0) return;
      rows = next;
      options(
        pick,
        [{ value: '', text: 'choose an item' }, ...rows.map((r, i) => ({ value: String(i), text: r.name }))],
        false,
      );
    },
  };
}
