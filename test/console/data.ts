// Small labelled data for the console test: clusters around seeded centres, as NDJSON files of
// dataset samples and gallery items.
export const DIM = 16;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

export function clusters(labels: number, perLabel: number, seed: number, spread: number) {
  const r = rng(seed);
  const centres = Array.from({ length: labels }, () => Array.from({ length: DIM }, () => spread * gauss(r)));
  const rows: { label: number; vector: number[] }[] = [];
  for (let l = 0; l < labels; l++)
    for (let j = 0; j < perLabel; j++)
      rows.push({ label: l, vector: centres[l].map((c) => Number((c + gauss(r)).toFixed(4))) });
  return rows;
}

// Overlapping classes, so that training has a loss to bring down and models differ.
export const samplesNdjson = (labels: number, perLabel: number): string =>
  clusters(labels, perLabel, 7, 0.8)
    .map((s) => JSON.stringify(s))
    .join('\n') + '\n';

// Well-separated identities: an item's nearest neighbours share its label.
export const itemsNdjson = (labels: number, perLabel: number): string =>
  clusters(labels, perLabel, 11, 3)
    .map((s, i) => JSON.stringify({ id: `item-${s.label}-${i % perLabel}`, label: s.label, input: s.vector }))
    .join('\n') + '\n';

/** n samples of one label in the binary layout: int32 label, then DIM float32, little-endian. */
export function binarySamples(label: number, n: number): Buffer {
  const r = rng(label);
  const buf = Buffer.alloc(n * 4 * (1 + DIM));
  for (let i = 0; i < n; i++) {
    const at = i * 4 * (1 + DIM);
    buf.writeInt32LE(label, at);
    for (let j = 0; j < DIM; j++) buf.writeFloatLE(gauss(r), at + 4 * (1 + j));
  }
  return buf;
}
