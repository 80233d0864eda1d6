// Gallery search replies: small ones as the object (Fastify serialises it with the route's
// schema), large ones written a slice of queries at a time as the socket takes them. A search of
// 900 queries at k 1000 is 900,000 hits; serialised in one go it held the event loop for seconds
// (rows-json.ts streams /embed and /distances for the same reason).
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { SearchResult } from '../services/galleries.js';
import { SLICE_BYTES } from './rows-json.js';

/** Up to this many hits a reply is serialised in one go. */
export const STREAM_HITS = 20_000;

type Hit = SearchResult['results'][number][number];

/** One hit as the schema's serialiser writes it: id, label, distance, in that order. */
const hitJson = (h: Hit): string =>
  `{"id":${JSON.stringify(h.id)},"label":${JSON.stringify(h.label)},"distance":${JSON.stringify(h.distance)}}`;

function searchStream(r: SearchResult): Readable {
  const { results, ...head } = r;
  let next = -1; // -1: the head is still to go
  return new Readable({
    highWaterMark: SLICE_BYTES,
    read() {
      if (next < 0) {
        next = 0;
        this.push(`${JSON.stringify(head).slice(0, -1)},"results":[`);
        return;
      }
      if (next >= results.length) {
        this.push(']}');
        this.push(null);
        return;
      }
      let text = '';
      while (next < results.length && text.length < SLICE_BYTES) {
        text += `${next > 0 ? ',' : ''}[${results[next].map(hitJson).join(',')}]`;
        next++;
      }
      this.push(text);
    },
  });
}

/** Sends the search result: the object when small, else a stream of the same JSON. */
export function sendSearch(reply: FastifyReply, r: SearchResult) {
  const hits = r.results.reduce((s, row) => s + row.length, 0);
  if (hits <= STREAM_HITS) return reply.send(r);
  return reply.type('application/json; charset=utf-8').send(searchStream(r));
}
