// What readiness depends on, for the health routes: the store's own health check (the database
// file is the one opened, writes succeed, the connection answers), bounded in time so a frozen
// disk or a black-holed network makes /readyz answer 503 instead of hanging with it.
import type { Store, StoreHealth } from '../store/types.js';

/** How long readiness waits for the store to answer its check. */
export const STORE_HEALTH_TIMEOUT_MS = 2000;

export class HealthService {
  constructor(
    private readonly store: Store,
    private readonly timeoutMs = STORE_HEALTH_TIMEOUT_MS,
  ) {}

  /** true while the store is open and usable: a cheap check for /metrics; storeHealth checks the storage */
  storeReady(): boolean {
    return this.store.isOpen();
  }

  /** ok while the store can take reads and writes; otherwise why not */
  async storeHealth(): Promise<StoreHealth> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<StoreHealth>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, reason: `the store did not answer its health check within ${this.timeoutMs} ms` }),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([
        this.store.health().catch((err: Error) => ({ ok: false, reason: err.message })),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}
