// What readiness depends on, for the health routes: whether the store is open.
import type { Store } from '../store/types.js';

export class HealthService {
  constructor(private readonly store: Store) {}

  /** true while the store can take reads and writes */
  storeReady(): boolean {
    return this.store.isOpen();
  }
}
