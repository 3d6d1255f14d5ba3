/**
 * moleculer-web drops the REST aliases of a service as soon as its last node leaves, so a real
 * endpoint would answer 404 while its service is down. The gateway remembers every alias it has
 * served; a 404 for a remembered route that is not routed right now is 503 "service" instead
 * (SPEC §11: no live node → 503), also while the routes are being rebuilt after nodes came back.
 */

interface AliasLike {
  method: string;
  fullPath: string;
  action?: string;
  match(url: string): unknown;
}

export class RouteMemory {
  private readonly known = new Map<string, AliasLike>();

  /** The routes of `aliases` alone (what the gateway routes right now). */
  static of(aliases: readonly AliasLike[]): RouteMemory {
    const memory = new RouteMemory();
    memory.remember(aliases);
    return memory;
  }

  /** Adds the aliases the gateway routes now (called whenever the service list changes). */
  remember(aliases: readonly AliasLike[]): void {
    for (const alias of aliases) {
      if (alias.action) this.known.set(`${alias.method} ${alias.fullPath}`, alias);
    }
  }

  /** The action a remembered route of `method` and `path` (no query) served, if any. */
  actionFor(method: string, path: string): string | undefined {
    for (const alias of this.known.values()) {
      if (alias.method !== method && alias.method !== "*") continue;
      try {
        if (alias.match(path)) return alias.action;
      } catch {
        // a malformed %-escape in the path: not one of ours
      }
    }
    return undefined;
  }
}
