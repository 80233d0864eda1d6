// Route glue for heavy work (evaluation, index-triplet gathers): an AbortSignal that fires when
// the client hangs up before its reply is sent, and the Retry-After header of a 503 from a full
// TaskGate.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BusyError } from '../services/task-gate.js';

/** Aborts when the connection closes before the reply has been written. */
export function clientSignal(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  // The request stream has ended (its body was read); the reply's close is what tells a hang-up.
  const onClose = () => {
    if (!reply.raw.writableFinished) ac.abort();
  };
  reply.raw.once('close', onClose);
  if (req.raw.socket?.destroyed) ac.abort();
  return ac.signal;
}

/** Runs a handler's work; a BusyError's reply carries Retry-After. */
export async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof BusyError) reply.header('retry-after', String(e.retryAfterSeconds));
    throw e;
  }
}
