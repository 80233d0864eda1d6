// A file dropped on the page (or chosen) is uploaded to a dataset's samples or a gallery's items,
// with a progress bar.
import { field, fill, h, options, say } from '../dom.js';
import { enc } from '../api.js';
import type { Dataset, Gallery } from '../types.js';
import { contentTypeOf, queryRows, upload, type QueryRow } from '../upload.js';
import { attempt } from './util.js';

export function dropZone(done: () => void, offer: (rows: QueryRow[]) => void) {
  const target = h('select', { name: 'target' });
  const input = h('input', { type: 'file', name: 'file', accept: '.ndjson,.jsonl,.bin,application/octet-stream' });
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Upload progress' });
  const note = h('p', { class: 'note' }, 'No upload yet.');
  const send = (file: File) =>
    attempt('Uploading', async () => {
      if (!target.value) throw new Error('create a dataset or a gallery first');
      const [kind, id] = target.value.split(':');
      const url = kind === 'dataset' ? `/datasets/${enc(id)}/samples` : `/galleries/${enc(id)}/items`;
      fill(note, `Sending ${file.name} (${file.size} bytes, ${contentTypeOf(file)})…`);
      bar.value = 0;
      const reply = (await upload(url, file, (sent, total) => {
        bar.max = Math.max(total, 1);
        bar.value = sent;
      }).catch((e: Error) => {
        // the note must not go on saying "Sending…"
        fill(note, `${file.name} was not uploaded: ${e.message}`);
        throw e;
      })) as { added?: number };
      fill(note, `Uploaded ${file.name}: ${reply?.added ?? 0} added.`);
      say(`Uploaded ${file.name}`);
      offer(await queryRows(file));
      done();
    }).then(() => undefined);
  input.addEventListener('change', () => {
    if (input.files?.[0]) void send(input.files[0]);
  });
  const zone = h(
    'section',
    { class: 'card drop', id: 'drop', 'aria-labelledby': 'drop-title' },
    h('h2', { id: 'drop-title' }, 'Upload a file'),
    h(
      'p',
      {},
      'Drop an NDJSON file (.ndjson or .jsonl: one sample or item per line) or a binary file (the layouts in the API ',
      'documentation) anywhere in this box, or choose one.',
    ),
    h('div', { class: 'fields' }, field('Send to', target), field('File', input)),
    bar,
    note,
  );
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void send(file);
  });
  return {
    el: zone,
    targets(ds: Dataset[], gs: Gallery[]) {
      options(target, [
        ...gs.map((g) => ({ value: `gallery:${g.id}`, text: `gallery ${g.name ?? g.id}: items (d=${g.dimension})` })),
        ...ds.map((d) => ({ value: `dataset:${d.id}`, text: `dataset ${d.name ?? d.id}: samples (d=${d.dimension})` })),
      ]);
    },
  };
}
