// The form that starts a small training job (POST /train) and opens it.
import { api } from '../api.js';
import { field, h, options, say } from '../dom.js';
import type { Job } from '../types.js';
import { attempt, datasets, untilDone } from './util.js';

const num = (input: HTMLInputElement): number | undefined => (input.value === '' ? undefined : Number(input.value));

/** The form, and the function that stops listing datasets into it (the page was left). */
export function trainForm(): { el: HTMLElement; stop: () => void } {
  const dataset = h('select', { name: 'datasetId', required: true });
  const k = h('input', { type: 'number', name: 'outputDimension', min: 1, value: 8, required: true });
  const optimizer = h(
    'select',
    { name: 'optimizer' },
    h('option', { value: '' }, 'default'),
    h('option', { value: 'adam' }, 'adam'),
    h('option', { value: 'lbfgs' }, 'lbfgs'),
    h('option', { value: 'cg' }, 'cg'),
  );
  const iterations = h('input', { type: 'number', name: 'maxIterations', min: 1, placeholder: 'default' });
  const margin = h('input', { type: 'number', name: 'margin', min: 0, step: 'any', placeholder: 'default' });
  const name = h('input', { type: 'text', name: 'modelName', maxlength: 200 });
  const stop = untilDone('Listing datasets', async () => {
    options(
      dataset,
      (await datasets()).map((d) => ({
        value: d.id,
        text: `${d.name ?? d.id} (d=${d.dimension}, ${d.tripletCount} triplets, ${d.sampleCount} samples)`,
      })),
    );
  });
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'train-title',
      onsubmit: (e) => {
        e.preventDefault();
        void attempt('Starting the job', async () => {
          const body: Record<string, unknown> = { datasetId: dataset.value, outputDimension: Number(k.value) };
          if (optimizer.value) body.optimizer = optimizer.value;
          if (num(iterations) !== undefined) body.maxIterations = num(iterations);
          if (num(margin) !== undefined) body.margin = num(margin);
          if (name.value.trim()) body.modelName = name.value.trim();
          const job = await api<Job>('POST', '/train', body);
          say(`Job ${job.id} queued`);
          location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
        });
      },
    },
    h('h2', { id: 'train-title' }, 'Start a training job'),
    h(
      'div',
      { class: 'fields' },
      field('Dataset', dataset),
      field('Output dimension k', k),
      field('Optimizer', optimizer),
      field('Most iterations', iterations),
      field('Margin', margin),
      field('Model name', name),
    ),
    h('button', { type: 'submit' }, 'Train'),
  );
  return { el: form, stop };
}
