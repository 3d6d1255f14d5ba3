/**
 * Merges concurrent loads of the same key inside one process: while a load for a key is running,
 * later callers get the same promise instead of starting their own. The catalog's cache keys it
 * by cache key and version, so a burst of cold reads of one version costs one query per node, and
 * a read after a change (a new version) never joins a load that began before it.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const flight = Promise.resolve()
      .then(load)
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, flight);
    return flight;
  }

  /** How many keys are loading right now. */
  get size(): number {
    return this.inFlight.size;
  }
}
