// The connection, body and reply attacks of issue 14, for bench/loop-under-abuse.ts. Each builds
// its bodies when called (before the clock starts: building them holds this process's loop, which
// also times /healthz) and returns the attack, which opens raw sockets (nothing is read or sent that
// the attack does not choose) and resolves with what the server answered once its sockets closed.
import net from 'node:net';

/** Opens a connection and sends bytes; `replies` counts what came back (status lines), `close` ends it. */
function attacker(port: number, head: string, body?: Buffer, opts: { read?: boolean } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const statuses: number[] = [];
  if (opts.read === false) socket.pause();
  else
    socket.on('data', (b: Buffer) => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(b.subarray(0, 16).toString('latin1'));
      if (m) statuses.push(Number(m[1]));
    });
  socket.write(head);
  if (body) socket.write(body);
  return { socket, statuses };
}

/** An attack, ready to run: resolves with the statuses the server answered ("12×408 3×503"). */
export type Attack = () => Promise<string>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function summary(statuses: number[][]): string {
  const counts = new Map<number, number>();
  for (const s of statuses.flat()) counts.set(s, (counts.get(s) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${n}×${s}`);
  return parts.length ? parts.join(' ') : 'no answers';
}

/**
 * `count` connections that send a JSON request's headers and a few bytes of its body, then
 * nothing, held for `holdMs` (past BODY_IDLE_TIMEOUT_MS, so the server times them out).
 */
export function slowBodies(port: number, count: number, holdMs: number): Attack {
  const head =
    'POST /datasets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"dim';
  return async (): Promise<string> => {
    const cs = Array.from({ length: count }, () => attacker(port, head));
    await sleep(holdMs);
    for (const c of cs) c.socket.destroy();
    return summary(cs.map((c) => c.statuses));
  };
}

/** `count` binary /embed bodies of `bytes`, all but the last byte sent, held for `holdMs`, then dropped. */
export function nearlyCompleteBinaries(
  port: number,
  model: string,
  d: number,
  count: number,
  bytes: number,
  holdMs: number,
): Attack {
  const rows = Math.floor(bytes / (4 * d));
  const length = rows * 4 * d;
  const body = Buffer.alloc(length - 1, 1);
  const head =
    `POST /embed?model=${model}&rows=${rows} HTTP/1.1\r\nHost: x\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;
  return async (): Promise<string> => {
    const cs = Array.from({ length: count }, () => attacker(port, head, body));
    await sleep(holdMs);
    for (const c of cs) c.socket.destroy();
    return summary(cs.map((c) => c.statuses));
  };
}

/**
 * `count` clients that ask for a large reply and never read it: binary /embed of `rows` rows (a
 * rows×k float32 reply) and JSON /distances of a×b vectors, held for `holdMs`, then dropped.
 */
export function slowReaders(
  port: number,
  model: string,
  d: number,
  opts: { count: number; rows: number; distancesA: number; distancesB: number; holdMs: number },
): Attack {
  const body = Buffer.alloc(opts.rows * 4 * d);
  for (let i = 0; i < body.length; i += 4) body.writeFloatLE(((i / 4) % 97) / 97, i);
  const embedHead =
    `POST /embed?model=${model}&rows=${opts.rows} HTTP/1.1\r\nHost: x\r\n` +
    `Content-Type: application/octet-stream\r\nAccept: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
  const vec = (i: number) => Array.from({ length: d }, (_, j) => ((i * 31 + j) % 17) / 17);
  const distances = Buffer.from(
    JSON.stringify({
      model,
      a: Array.from({ length: opts.distancesA }, (_, i) => vec(i)),
      b: Array.from({ length: opts.distancesB }, (_, i) => vec(i + 1000)),
    }),
  );
  const distancesHead =
    `POST /distances HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${distances.length}\r\n\r\n`;
  return async (): Promise<string> => {
    const cs = Array.from({ length: opts.count }, (_, i) =>
      i % 2 === 0
        ? attacker(port, embedHead, body, { read: false })
        : attacker(port, distancesHead, distances, { read: false }),
    );
    await sleep(opts.holdMs);
    // What each got: its status line is the first bytes it has not read.
    const statuses = cs.map((c) => {
      const b = c.socket.read(16) as Buffer | null;
      const m = b && /^HTTP\/1\.1 (\d+)/.exec(b.toString('latin1'));
      return m ? [Number(m[1])] : [];
    });
    for (const c of cs) c.socket.destroy();
    return summary(statuses);
  };
}

/**
 * `count` JSON /embed bodies of about `bytes` each (rows of d numbers), `concurrent` at a time, over
 * raw sockets: the server may answer (413) and close before the body is all sent, which a fetch
 * client reports as a failed write instead of the answer.
 */
export function largeJsonBodies(
  port: number,
  model: string,
  d: number,
  bytes: number,
  count: number,
  concurrent: number,
): Attack {
  const row = `[${Array.from({ length: d }, (_, j) => (((j * 7919) % 1000) / 1000 + 0.0001234567).toFixed(9)).join(',')}]`;
  const rows = Math.floor((bytes - 64) / (row.length + 1));
  // Encoded once, before the clock starts: encoding 16 MiB of text on this process's loop, which
  // the /healthz poller shares, would be charged to the server.
  const body = Buffer.from(`{"model":"${model}","inputs":[${Array.from({ length: rows }, () => row).join(',')}]}`);
  const head =
    `POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const one = () =>
    new Promise<number[]>((resolve) => {
      const a = attacker(port, head, body);
      a.socket.on('close', () => resolve(a.statuses));
    });
  return async (): Promise<string> => {
    const statuses: number[][] = [];
    for (let done = 0; done < count; done += concurrent) {
      statuses.push(...(await Promise.all(Array.from({ length: Math.min(concurrent, count - done) }, one))));
    }
    return `${summary(statuses)}, ${(body.length / 2 ** 20).toFixed(1)} MiB bodies`;
  };
}
