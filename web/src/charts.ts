// uPlot charts: a growing line chart for training curves and a ROC chart with a log-scale FAR axis.
// Each chart's container says how many points it draws (data-points), for people's tools and tests.
import uPlot from 'uplot';
import { h, plain } from './dom.js';
import { far } from './format.js';
import type { TarAtFar } from './types.js';

const COLORS = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490'];
const WIDTH = 560;
const HEIGHT = 260;

export interface LineChart {
  el: HTMLElement;
  add(x: number, ys: (number | undefined)[]): void;
  points(): number;
  destroy(): void;
}

function figure(title: string, note: string): { el: HTMLElement; plot: HTMLElement } {
  const plot = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${note}` });
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const el = h('figure', { class: 'chart', 'data-chart': slug, 'data-points': 0 }, h('figcaption', {}, title), plot);
  return { el, plot };
}

/** A chart whose points arrive one at a time; redraws at most once a frame. */
export function lineChart(title: string, labels: string[], xLabel = 'iteration'): LineChart {
  const { el, plot } = figure(title, `${labels.join(', ')} against ${xLabel}`);
  const data: (number | null)[][] = [[], ...labels.map(() => [])];
  const u = new uPlot(
    {
      width: WIDTH,
      height: HEIGHT,
      scales: { x: { time: false } },
      axes: [{ label: xLabel }, {}],
      series: [
        { label: xLabel },
        ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true })),
      ],
    },
    data as uPlot.AlignedData,
    plot,
  );
  let pending = false;
  let count = 0;
  return {
    el,
    add(x, ys) {
      const last = data[0][data[0].length - 1];
      if (last !== undefined && last !== null && x <= last) return;
      data[0].push(x);
      ys.forEach((y, i) => data[i + 1].push(y ?? null));
      count += 1;
      el.dataset.points = String(count);
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        u.setData(data as uPlot.AlignedData);
      });
    },
    points: () => count,
    destroy: () => u.destroy(),
  };
}

export interface RocInput {
  label: string;
  curve: { far: number; tar: number }[];
  marks: TarAtFar[];
  eer: number | null;
}

/** ROC curves (TAR against FAR on a log axis), overlaid, with each one's TAR@FAR marks and EER. */
export function rocChart(title: string, inputs: RocInput[]): HTMLElement {
  const { el, plot } = figure(title, inputs.map((i) => i.label).join(' and '));
  const tables: uPlot.AlignedData[] = [];
  const series: uPlot.Series[] = [{ label: 'FAR' }];
  inputs.forEach((input, i) => {
    const color = COLORS[i % COLORS.length];
    const curve = input.curve.filter((p) => p.far > 0);
    tables.push([curve.map((p) => p.far), curve.map((p) => p.tar)]);
    // uPlot puts labels in with textContent, past append(): their bidi controls are taken out here
    const label = plain(input.label);
    series.push({ label: `${label} TAR`, stroke: color, width: 2, spanGaps: true });
    const marks = input.marks
      .filter((m) => m.tar !== null && m.far > 0)
      .map((m) => [m.far, m.tar as number] as [number, number]);
    if (input.eer !== null && input.eer > 0) marks.push([input.eer, 1 - input.eer]);
    marks.sort((a, b) => a[0] - b[0]);
    tables.push([marks.map((m) => m[0]), marks.map((m) => m[1])]);
    series.push({
      label: `${label} TAR@FAR and EER`,
      stroke: color,
      fill: color,
      paths: () => null,
      points: { show: true, size: 9, stroke: color, fill: '#ffffff', width: 2 },
    });
  });
  const data = uPlot.join(tables);
  new uPlot(
    {
      width: WIDTH,
      height: HEIGHT + 40,
      scales: { x: { time: false, distr: 3, log: 10 }, y: { range: [0, 1] } },
      // Labels at powers of ten only (uPlot's own round 1e-4 to "0").
      axes: [
        {
          label: 'FAR (log scale)',
          values: (_u, ticks) => ticks.map((v) => (v > 0 && Number.isInteger(Math.log10(v)) ? far(v) : '')),
        },
        { label: 'TAR' },
      ],
      series,
    },
    data,
    plot,
  );
  el.dataset.points = String(inputs.reduce((n, i) => n + i.curve.length, 0));
  return el;
}
