// The crash test's gallery uploads: a stream of POST /galleries/:id/items (JSON, binary records and
// NDJSON in turn, new ids and replacements of acknowledged ones) that the kill interrupts, and the
// checks after the restart: every acknowledged upload is there, the one in flight is all or nothing,
// each stored embedding is bit for bit what /embed answers for the item's input, itemCount is the
// number of distinct ids, and a search finds an item as its own nearest hit.
import { encodeBinaryItems } from '../src/http/gallery-items.js';

/** new ids and replaced ids per upload */
const NEW_ITEMS = 100;
const REPLACED_ITEMS = 100;
/** rows per /embed request (under its MAX_BATCH) */
const EMBED_ROWS = 4000;
/** items searched for after each restart */
const SEARCHED = 4;

/** Rows of gallery_items read beside the server (SQLite file or PostgreSQL). */
export type ReadRows = (
  sql: string,
  params: unknown[],
) => Promise<{ item_id: string; features: Buffer; embedding: Buffer }[]>;

interface Item {
  features: Buffer;
  label: string;
}
interface Upload {
  format: 'json' | 'binary' | 'ndjson';
  items: Map<string, Item>;
}

async function send(base: string, path: string, type: string, body: string | Buffer, accept?: string) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': type, ...(accept ? { accept } : {}) },
    body,
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

const floats = (b: Buffer) => Array.from(new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4));

export class GalleryUploads {
  /** what the acknowledged uploads (and any unacknowledged one found whole) left */
  private readonly items = new Map<string, Item>();
  /** /embed's answer per id for its current features; missing for ids changed since the last check */
  private readonly embedded = new Map<string, Buffer>();
  private pending: Upload | null = null;
  private nextId = 0;
  private sent = 0;
  /** failures the server answered (not a kill): a bug in the server or in this script */
  private refused: string[] = [];
  acknowledged = 0;
  caughtInFlight = 0;
  landedUnacknowledged = 0;

  constructor(
    private readonly gallery: string,
    private readonly model: string,
    private readonly d: number,
    private readonly rand: () => number,
    private readonly read: ReadRows,
  ) {}

  private upload(): Upload {
    const items = new Map<string, Item>();
    const row = () => Buffer.from(Float32Array.from({ length: this.d }, () => this.rand() * 2 - 1).buffer);
    const known = [...this.items.keys()];
    for (let i = 0; i < REPLACED_ITEMS && i < known.length; i++) {
      const id = known[Math.floor(this.rand() * known.length)];
      items.set(id, { features: row(), label: `r${Math.floor(this.rand() * 50)}` });
    }
    for (let i = 0; i < NEW_ITEMS; i++) {
      const n = this.nextId++;
      items.set(`g${String(n).padStart(7, '0')}`, { features: row(), label: `n${n % 50}` });
    }
    const format = (['json', 'binary', 'ndjson'] as const)[this.sent++ % 3];
    return { format, items };
  }

  private async post(base: string, u: Upload): Promise<number> {
    const path = `/galleries/${this.gallery}/items`;
    const list = [...u.items].map(([id, it]) => ({ id, label: it.label, input: floats(it.features) }));
    if (u.format === 'binary')
      return (await send(base, path, 'application/octet-stream', encodeBinaryItems(list))).status;
    if (u.format === 'ndjson') {
      const lines = list.map((it) => JSON.stringify(it)).join('\n');
      return (await send(base, path, 'application/x-ndjson', `${lines}\n`)).status;
    }
    return (await send(base, path, 'application/json', JSON.stringify({ items: list }))).status;
  }

  /** Uploads one after another until stopped or the server dies; the last may stay in flight. */
  async run(base: string, stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const u = this.upload();
      this.pending = u;
      let status: number;
      try {
        status = await this.post(base, u);
      } catch {
        return; // the server died under us: this upload was not acknowledged
      }
      if (status !== 201) {
        this.refused.push(`a ${u.format} upload was answered ${status}`);
        this.pending = null;
        return;
      }
      this.apply(u);
      this.pending = null;
      this.acknowledged++;
    }
  }

  private apply(u: Upload): void {
    for (const [id, it] of u.items) {
      this.items.set(id, it);
      this.embedded.delete(id);
    }
  }

  /** After the restart: the problems found (none when the uploads held). */
  async check(base: string): Promise<string[]> {
    const problems = this.refused.splice(0);
    const stored = new Map(
      (
        await this.read('SELECT item_id, features, embedding FROM gallery_items WHERE gallery_id = $1', [this.gallery])
      ).map((r) => [r.item_id, r]),
    );
    if (this.pending) {
      const u = this.pending;
      this.pending = null;
      this.caughtInFlight++;
      const landed = [...u.items].filter(([id, it]) => stored.get(id)?.features.equals(it.features)).length;
      if (landed === u.items.size) {
        this.landedUnacknowledged++;
        this.apply(u);
      } else if (landed !== 0)
        problems.push(`an unacknowledged ${u.format} upload landed in part (${landed} of ${u.items.size} items)`);
    }
    let missing = 0;
    let wrong = 0;
    for (const [id, it] of this.items) {
      const s = stored.get(id);
      if (!s) missing++;
      else if (!s.features.equals(it.features)) wrong++;
    }
    if (missing > 0) problems.push(`${missing} acknowledged gallery items are missing`);
    if (wrong > 0) problems.push(`${wrong} gallery items do not hold their last acknowledged features`);
    if (stored.size !== this.items.size)
      problems.push(`the gallery holds ${stored.size} items, ${this.items.size} expected`);
    await this.embedChanged(base);
    const off = [...this.items.keys()].filter((id) => {
      const s = stored.get(id);
      return s && !s.embedding.equals(this.embedded.get(id)!);
    }).length;
    if (off > 0) problems.push(`${off} gallery items' embeddings differ from what /embed answers`);
    const detail = (await fetch(`${base}/galleries/${this.gallery}`).then((r) => r.json())) as { itemCount: number };
    if (detail.itemCount !== stored.size)
      problems.push(`itemCount is ${detail.itemCount}, the gallery holds ${stored.size} distinct ids`);
    problems.push(...(await this.search(base)));
    return problems;
  }

  /** /embed for the items changed since the last check, in binary requests. */
  private async embedChanged(base: string): Promise<void> {
    const changed = [...this.items.keys()].filter((id) => !this.embedded.has(id));
    for (let at = 0; at < changed.length; at += EMBED_ROWS) {
      const ids = changed.slice(at, at + EMBED_ROWS);
      const body = Buffer.concat(ids.map((id) => this.items.get(id)!.features));
      const path = `/embed?model=${this.model}&rows=${ids.length}`;
      const res = await send(base, path, 'application/octet-stream', body, 'application/octet-stream');
      if (res.status !== 200) throw new Error(`POST /embed → ${res.status} ${res.body.toString()}`);
      const k = res.body.byteLength / ids.length;
      ids.forEach((id, i) => this.embedded.set(id, res.body.subarray(i * k, (i + 1) * k)));
    }
  }

  /** A few items, each searched for by its own input: it must be its own nearest hit, at distance 0. */
  private async search(base: string): Promise<string[]> {
    const known = [...this.items.keys()];
    if (known.length === 0) return [];
    const ids = Array.from({ length: SEARCHED }, () => known[Math.floor(this.rand() * known.length)]);
    const res = await send(
      base,
      `/galleries/${this.gallery}/search`,
      'application/json',
      JSON.stringify({ inputs: ids.map((id) => floats(this.items.get(id)!.features)), k: 1 }),
    );
    if (res.status !== 200) return [`gallery search answered ${res.status} ${res.body.toString()}`];
    const results = JSON.parse(res.body.toString()).results as { id: string; label: unknown; distance: number }[][];
    return ids.flatMap((id, i) => {
      const hit = results[i][0];
      return hit?.id === id && hit.label === this.items.get(id)!.label && hit.distance < 1e-6
        ? []
        : [`searching for item ${id} found ${JSON.stringify(hit)}`];
    });
  }

  get size(): number {
    return this.items.size;
  }
}
