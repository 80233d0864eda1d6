// Binary bodies staged for the kernels (src/http/staged-body.ts): the copy of a complete body into
// its staged block runs in slices with the event loop let run between them, and neither a failure
// during that copy nor a client gone while it runs leaves bytes counted against the budget.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { readStaged, StagingBudget } from '../../src/http/staged-body.js';
import type { StagedRows } from '../../src/services/serving.js';

const MiB = 1024 * 1024;

/** Staged rows in a plain Buffer that remember their writes and whether they were released. */
class BufferRows implements StagedRows {
  readonly buf: Buffer;
  writes = 0;
  released = false;
  /** called before each write, with the writes made so far (a throw fails the write) */
  beforeWrite: (writes: number) => void = () => {};

  constructor(
    readonly byteLength: number,
    /** called after each write, with its length */
    private readonly onWrite: (bytes: number) => void = () => {},
  ) {
    this.buf = Buffer.alloc(byteLength);
  }

  write(chunk: Uint8Array, offset: number): void {
    this.beforeWrite(this.writes);
    this.buf.set(chunk, offset);
    this.writes++;
    this.onWrite(chunk.byteLength);
  }

  value(i: number): number {
    return this.buf.readFloatLE(i * 4);
  }

  release(): void {
    this.released = true;
  }
}

/** A body sent through a real stream in pieces of `piece` bytes; the rows it is staged into. */
function send(body: Buffer, budget: StagingBudget, onWrite?: (bytes: number) => void, piece = 100_000) {
  const stream = new PassThrough();
  let rows: BufferRows | undefined;
  const staged = readStaged(stream, {
    contentLength: String(body.byteLength),
    limit: 64 * MiB,
    budget,
    stage: (n) => (rows = new BufferRows(n, onWrite)),
  });
  for (let at = 0; at < body.byteLength; at += piece) stream.write(body.subarray(at, at + piece));
  stream.end();
  return { stream, staged, rows: () => rows! };
}

t.test('a body of many parts is staged byte for byte, and counted at its length', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(5 * MiB + 12_345);
  const { staged } = send(body, budget, undefined, 65_537);
  const rows = (await staged) as BufferRows;
  t.equal(rows.byteLength, body.byteLength);
  t.ok(rows.buf.equals(body), 'the same bytes, in order');
  t.ok(rows.writes > 5, `copied in parts (${rows.writes} writes)`);
  t.equal(budget.bytes, body.byteLength, 'the block counts the body, the parts nothing');
  rows.release();
});

t.test('while the copy waits for its turns, the budget counts the block and the parts not yet copied', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(5 * MiB + 777);
  let copied = 0;
  const counted: number[] = [];
  const expected: number[] = [];
  // at each write, before its part is given back: the whole block, and every part from this one on
  const { staged } = send(body, budget, (n) => {
    counted.push(budget.bytes);
    expected.push(2 * body.byteLength - copied);
    copied += n;
  });
  const rows = (await staged) as BufferRows;
  t.same(counted, expected);
  t.equal(budget.bytes, body.byteLength, 'then the block alone');
  rows.release();
  t.equal(budget.bytes, 0);
});

t.test('the event loop runs while a large body is copied into its block', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(6 * MiB);
  const { stream, staged, rows } = send(body, budget);
  let writesWhenLoopRan: number | undefined;
  // After readStaged's own 'end' listener, which starts the copy.
  stream.once('end', () => setImmediate(() => (writesWhenLoopRan = rows().writes)));
  const result = (await staged) as BufferRows;
  t.ok(result.buf.equals(body));
  t.not(writesWhenLoopRan, undefined, 'a callback queued after the end ran before the body was staged');
  t.ok(writesWhenLoopRan! < result.writes, 'and it ran before the copy’s last slice');
  result.release();
  t.equal(budget.bytes, 0);
});

t.test('bodies ending together take turns: the loop holds one slice at a time', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const bodies = [randomBytes(4 * MiB), randomBytes(4 * MiB + 1), randomBytes(3 * MiB)];
  // Bytes copied between two turns of the loop, counted by a callback that runs on every turn.
  const perTurn = [0];
  let ticking = true;
  const tick = () => {
    perTurn.push(0);
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const sent = bodies.map((body) => send(body, budget, (n) => (perTurn[perTurn.length - 1] += n)));
  const staged = (await Promise.all(sent.map((s) => s.staged))) as BufferRows[];
  ticking = false;
  staged.forEach((rows, i) => t.ok(rows.buf.equals(bodies[i]), `body ${i} intact`));
  t.ok(Math.max(...perTurn) <= MiB, `at most one slice a turn (${Math.max(...perTurn)} bytes)`);
  staged.forEach((rows) => rows.release());
  t.equal(budget.bytes, 0);
});

t.test('a body of one slice is staged without giving up a turn', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(MiB);
  const { stream, staged } = send(body, budget);
  let loopRan = false;
  stream.once('end', () => setImmediate(() => (loopRan = true)));
  const rows = (await staged) as BufferRows;
  t.ok(rows.buf.equals(body));
  t.notOk(loopRan, 'copied in one go');
  rows.release();
});

t.test('a write that throws during the copy rejects, releases the block and gives back the budget', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(8 * MiB);
  const { stream, staged, rows } = send(body, budget);
  let loopRan = false;
  stream.once('end', () => {
    setImmediate(() => (loopRan = true));
    rows().beforeWrite = (writes) => {
      if (writes === 9) throw new Error(`write failed (the loop had run: ${loopRan})`);
    };
  });
  await t.rejects(staged, { message: 'write failed (the loop had run: true)' });
  t.ok(rows().released, 'the staged block was released');
  t.equal(budget.bytes, 0, 'nothing stays counted');
  // Nothing counted twice: the whole budget takes a body again.
  const again = send(body, new StagingBudget(body.byteLength + MiB));
  t.ok(((await again.staged) as BufferRows).buf.equals(body));
});

t.test('a client gone after the end, while the copy runs, neither fails the body nor frees it', async (t) => {
  const budget = new StagingBudget(64 * MiB);
  const body = randomBytes(6 * MiB);
  const { stream, staged, rows: staging } = send(body, budget);
  let writesWhenClosed = Infinity;
  stream.once('end', () => stream.destroy());
  stream.once('close', () => (writesWhenClosed = staging().writes));
  const rows = (await staged) as BufferRows;
  t.ok(writesWhenClosed < rows.writes, "the stream's 'close' came while the copy ran");
  t.ok(rows.buf.equals(body), 'the whole body, intact');
  t.notOk(rows.released);
  t.equal(budget.bytes, body.byteLength, 'counted once, at its length');
  rows.release();
  t.equal(budget.bytes, 0);
});
