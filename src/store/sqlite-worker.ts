// The thread that hosts the SQLite database: it opens SqliteDatabase and runs each call it is
// sent, one at a time in the order sent, so a slow or frozen disk stalls this thread only.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatabase } from './sqlite.js';
import { answerTransfers, OPENED_ID, sendError, type StoreAnswer, type StoreCall } from './sqlite-thread-protocol.js';

const port = parentPort!;
const post = (answer: StoreAnswer, transfer: ArrayBuffer[] = []) => port.postMessage(answer, transfer);

let db: SqliteDatabase | undefined;
try {
  db = new SqliteDatabase((workerData as { file: string }).file);
  post({ id: OPENED_ID, open: true, value: null });
} catch (err) {
  post({ id: OPENED_ID, open: false, error: sendError(err) });
}

if (db) {
  const methods = db as unknown as Record<string, (...args: unknown[]) => unknown>;
  port.on('message', (call: StoreCall) => {
    try {
      const value = methods[call.method].apply(db, call.args);
      post({ id: call.id, open: db!.isOpen(), value }, answerTransfers(value));
    } catch (err) {
      post({ id: call.id, open: db!.isOpen(), error: sendError(err) });
    }
  });
}
