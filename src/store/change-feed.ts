// The listeners of one store's change feed (Store.watch), shared by both backends. It remembers
// whether the feed is down, so a listener that subscribes meanwhile hears `lost` too.
import type { StoreChange } from './types.js';

type Listener = (change: StoreChange) => void;

export class ChangeHub {
  private readonly listeners = new Set<Listener>();
  /** why the feed is down (events are being missed), or undefined while it is up */
  private down: string | undefined;

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  watch(listener: Listener): () => void {
    this.listeners.add(listener);
    const down = this.down;
    // Told after watch() returns, as every other event is, never from inside the call.
    if (down !== undefined)
      queueMicrotask(() => this.listeners.has(listener) && listener({ kind: 'lost', reason: down }));
    return () => void this.listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    if (change.kind === 'lost') this.down = change.reason;
    else if (change.kind === 'resync') this.down = undefined;
    for (const listener of [...this.listeners]) {
      // One listener's bug must not keep the others (or the store's write) from their events.
      try {
        listener(change);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
