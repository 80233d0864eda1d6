// Gallery search replies: small ones as the object (Fastify serialises it with the route's
// schema), large ones written a slice of queries at a time as the socket takes them. A search of
// 900 queries at k 1000 is 900,000 hits; serialised in one go it held the event loop for seconds
// (rows-json.ts streams /embed and /distances for the same reason).
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { SearchResult } from '../services/galleries.js';
import { SLICE_BYTES, slicedStream } from './rows-json.js';

/** Up to this many hits a reply is serialised in one go. */
export const STREAM_HITS = 20_000;

type Hit = SearchResult['results'][number][number];

/** One hit as the schema's serialiser writes it: id, label, distance, in that order. */
const hitJson = (h: Hit): string =>
  `{"id":${JSON.stringify(h.id)},"label":${JSON.stringify(h.label)},"distance":${JSON.stringify(h.distance)}}`;

function searchStream(r: SearchResult): Readable {
  const { results, ...head } = r;
  return slicedStream(
    `${JSON.stringify(head).slice(0, -1)},"results":[`,
    results.length,
    (from) => {
      let data = '';
      let to = from;
      while (to < results.length && data.length < SLICE_BYTES) {
        data += `${to > 0 ? ',' : ''}[${results[to].map(hitJson).join(',')}]`;
        to++;
      }
      return { data, to };
    },
    ']}',
  );
}

/** Sends the search result: the object when small, else a stream of the same JSON. */
export function sendSearch(reply: FastifyReply, r: SearchResult) {
  const hits = r.results.reduce((s, row) => s + row.length, 0);
  if (hits <= STREAM_HITS) return reply.send(r);
  return reply.type('application/json; charset=utf-8').send(searchStream(r));
}
