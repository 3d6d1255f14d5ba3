/**
 * Merges concurrent loads of the same key inside one process: while a load for a key is running,
 * later callers get the same promise instead of starting their own.
 *
 * Why the catalog needs it in front of Moleculer's cacher lock: that lock (redlock) makes every
 * missing caller wait in a Redis retry loop and then take the lock one after the other, so a burst
 * of N cold reads costs N serial lock round trips, and callers that exhaust the retries fail with a
 * LockError. With this in front, each node sends one caller per key to the cacher, so the lock only
 * arbitrates between nodes.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const flight = Promise.resolve()
      .then(load)
      .finally(() => {
        // Only the flight that is still registered removes itself (forget() may have replaced it).
        if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
      });
    this.inFlight.set(key, flight);
    return flight;
  }

  /** Callers from now on start a new load (the running one may have read data that is now stale). */
  forget(key: string): void {
    this.inFlight.delete(key);
  }

  /** How many keys are loading right now. */
  get size(): number {
    return this.inFlight.size;
  }
}
