import type { Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { ConcertWindowCache, type ConcertTimes } from "../modules/queue/concert-windows";
import { PreQueueOpener } from "../modules/queue/pre-queue-open";
import type { EntryWindows } from "../modules/queue/queue-store";
import type { RedisMethods } from "./redis.mixin";

export interface QueueOpeningMethods {
  /** The concert's entry windows (cached for a few seconds); 404 CONCERT_NOT_FOUND for an unknown one. */
  entryWindows(concertId: number): Promise<EntryWindows>;
  /** Starts the opening shuffle of the concert's pre-queue in the background, if its saleOpensAt has come. */
  openPreQueue(concertId: number, redisNowMs: number): void;
}

interface OpeningVars extends RedisMethods {
  windows: ConcertWindowCache;
  opener: PreQueueOpener;
  openings: Map<number, Promise<void>>;
}

type OpeningService = Service & OpeningVars & QueueOpeningMethods;

/**
 * The queue's phases (SPEC §8): each concert's windows from the catalog, and the one-time opening
 * shuffle of its pre-queue (modules/queue/pre-queue-open.ts), owned here: stopped waits for an
 * opening in flight (a chunk is atomic; an interrupted opening is
 * continued by whichever node takes the lease next).
 */
export function QueueOpeningMixin(): Partial<ServiceSchema> {
  return {
    methods: {
      entryWindows(this: OpeningService, concertId: number) {
        return this.windows.get(concertId, () => this.broker.call<ConcertTimes, { concertId: number }>("catalog.getConcert", { concertId }));
      },
      openPreQueue(this: OpeningService, concertId: number, redisNowMs: number) {
        if (this.openings.has(concertId)) return;
        const opening = this.entryWindows(concertId)
          .then(async (windows) => {
            if (windows.saleOpensMs !== null && redisNowMs < windows.saleOpensMs) return;
            // Made on first use: the Redis client is the shared one, opened by RedisMixin's started.
            this.opener ??= new PreQueueOpener(this.redis, getConfig().redisPrefix);
            const result = await this.opener.open(concertId, this.broker.nodeID);
            if (result.ran) {
              this.logger.info(`Pre-queue of concert ${concertId} opened: ${result.placed} placed${result.interrupted ? " (lease lost)" : ""}`);
            }
          })
          .catch((err: unknown) => this.logger.warn(`Pre-queue of concert ${concertId} not opened`, err))
          .finally(() => this.openings.delete(concertId));
        this.openings.set(concertId, opening);
      },
    },
    created(this: Service) {
      const self = this as OpeningService;
      self.windows = new ConcertWindowCache();
      self.openings = new Map();
    },
    async stopped(this: Service) {
      await Promise.all((this as OpeningService).openings.values());
    },
  };
}
