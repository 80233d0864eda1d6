// A file sent as the request body with upload progress (fetch reports none; XMLHttpRequest does),
// with the API key in the header. NDJSON files go as application/x-ndjson, anything else as
// application/octet-stream (the service's binary layouts).
import { authHeaders, errorFrom, parseReply, Unreachable } from './api.js';

export const contentTypeOf = (file: File): string =>
  /\.(ndjson|jsonl)$/i.test(file.name) || file.type === 'application/x-ndjson'
    ? 'application/x-ndjson'
    : 'application/octet-stream';

export function upload(url: string, file: File, onProgress: (sent: number, total: number) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    const headers = authHeaders({ 'content-type': contentTypeOf(file) });
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        try {
          resolve(xhr.responseText ? parseReply(xhr.responseText, xhr.status, xhr.statusText) : undefined);
        } catch (e) {
          reject(e);
        }
      } else reject(errorFrom(xhr.status, xhr.responseText, xhr.statusText, headers));
    });
    xhr.addEventListener('error', () => reject(new Unreachable('the upload was interrupted')));
    xhr.send(file);
  });
}

export interface QueryRow {
  name: string;
  vector: number[];
}

/** The first rows of an NDJSON file (gallery items or samples), offered as search queries. */
export async function queryRows(file: File, most = 200): Promise<QueryRow[]> {
  if (contentTypeOf(file) !== 'application/x-ndjson') return [];
  const text = await file.slice(0, 4 << 20).text();
  const rows: QueryRow[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (rows.length >= most) break;
    try {
      const o = JSON.parse(line) as { id?: string; label?: unknown; input?: number[]; vector?: number[] };
      const vector = o.input ?? o.vector;
      if (!Array.isArray(vector)) continue;
      const label = o.label === undefined ? '' : ` (label ${String(o.label)})`;
      rows.push({ name: `${o.id ?? `line ${i + 1}`}${label}`, vector });
    } catch {
      /* a partial last line, or not JSON */
    }
  }
  return rows;
}
