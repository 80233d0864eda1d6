// A job's progress: the stored points (JSON pages), then the live stream. EventSource cannot send
// an Authorization header, so the stream is read with fetch; a dropped stream is resumed with
// Last-Event-ID (the seq of the newest point seen), as the service's `retry:` asks.
import {
  authHeaders,
  Call,
  enc,
  errorFrom,
  fetchText,
  NO_STORE,
  notTheService,
  parseReply,
  READ_QUIET_MS,
} from './api.js';
import type { Job, Page, Progress, ProgressPoint } from './types.js';
import { TERMINAL } from './types.js';

export interface Follower {
  onPoint(p: Progress): void;
  onStatus(job: Job): void;
  onError(message: string): void;
}

async function history(id: string, f: Follower, signal: AbortSignal): Promise<number> {
  let after = 0;
  for (;;) {
    const url = `/jobs/${enc(id)}/events?format=json&limit=1000&after=${after}`;
    const headers = authHeaders({ accept: 'application/json' });
    const { res, text } = await fetchText(url, { headers }, signal, READ_QUIET_MS);
    if (!res.ok) throw errorFrom(res.status, text, res.statusText, headers);
    const page = parseReply(text, res.status, res.statusText) as Page<ProgressPoint>;
    for (const p of page.items) f.onPoint(p.progress);
    if (page.items.length > 0) after = page.items[page.items.length - 1].seq;
    if (page.nextCursor === null || page.items.length === 0) return after;
  }
}

interface SseEvent {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

function parseBlock(block: string): SseEvent {
  const ev: SseEvent = { event: 'message', data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    const i = line.indexOf(':');
    if (i === 0) continue;
    const name = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (name === 'event') ev.event = value;
    else if (name === 'data') data.push(value);
    else if (name === 'id') ev.id = value;
    else if (name === 'retry') ev.retry = Number(value);
  }
  ev.data = data.join('\n');
  return ev;
}

const STREAM_QUIET_MS = 45_000;

/** Follows a job until it ends or the signal aborts. */
export async function followJob(id: string, f: Follower, signal: AbortSignal): Promise<void> {
  let lastId = String(await history(id, f, signal));
  let retryMs = 1000;
  let ended = false;
  while (!ended && !signal.aborted) {
    // The service sends a comment every 15 s: a stream silent for three of them is dead, not idle.
    const call = new Call(signal, STREAM_QUIET_MS);
    try {
      const headers = authHeaders({ accept: 'text/event-stream', 'last-event-id': lastId });
      const url = `/jobs/${enc(id)}/events?format=sse`;
      const res = await call.step(fetch(url, { headers, signal: call.signal, cache: NO_STORE }));
      if (!res.ok || !res.body) throw errorFrom(res.status, await res.text(), res.statusText, headers);
      // a proxy's page with 200 would otherwise end at once, and be asked for again for good
      if (!res.headers.get('content-type')?.startsWith('text/event-stream'))
        throw notTheService(res.status, res.statusText);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await call.step(reader.read());
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const ev = parseBlock(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (ev.retry !== undefined && Number.isFinite(ev.retry)) retryMs = ev.retry;
          if (ev.id !== undefined) lastId = ev.id;
          if (ev.event === 'progress') f.onPoint(JSON.parse(ev.data) as Progress);
          else if (ev.event === 'status') {
            const job = JSON.parse(ev.data) as Job;
            f.onStatus(job);
            if (TERMINAL.has(job.status)) ended = true;
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      // A refusal (401, 404) is the caller's to show; a dropped stream or a 5xx is resumed here.
      const status = (e as { status?: number }).status;
      if (status !== undefined && status < 500) throw e;
      f.onError((e as Error).message);
    } finally {
      call.end();
    }
    if (!ended && !signal.aborted) await new Promise((r) => setTimeout(r, retryMs));
  }
}
