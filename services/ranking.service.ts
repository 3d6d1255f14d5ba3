import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { DurableEventsMixin } from "../mixins/durable-events.mixin";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";
import { ConcertRanking, type PaymentSale, type RecordedPayment } from "../modules/ranking/concert-ranking";
import { TitleCache } from "../modules/ranking/title-cache";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

export interface RankingEntry {
  concertId: number;
  title: string;
  soldSeats: number;
}

interface RankingMethods {
  concertTitle(ctx: Context, concertId: number): Promise<string | null>;
  rebuildIfLost(): Promise<void>;
}

interface RankingVars extends RedisMethods, RankingMethods {
  ranking: ConcertRanking;
  titles: TitleCache;
  rebuildTimer?: NodeJS.Timeout;
  rebuilding?: Promise<void>;
}

type RankingThis = Service & RankingVars;

const TITLE_TTL_MS = 60_000;
/** How often a node checks that Redis still holds the ranking (after a flush it rebuilds). */
const REBUILD_CHECK_MS = 5000;
const REBUILD_PAGE = 500;
const id = { type: "number", integer: true, positive: true } as const;
const saleParams = { paymentId: id, concertId: id, seatIds: { type: "array", items: id } } as const;

/** Durable source of the ranking (SPEC §9): each payment counted and each refund subtracted once. */
const durable = DurableEventsMixin<RankingThis>("ranking", {
  async "payment.completed"(payload) {
    await this.ranking.recordSale(payload as unknown as PaymentSale);
  },
  async "payment.refunded"(payload) {
    await this.ranking.recordRefund(payload as unknown as PaymentSale);
  },
});

/**
 * Best-selling concerts: seats sold per concert, counted once per payment and subtracted once per
 * refund (SPEC invariant 7), from the Kafka topics (durable) and the in-process events (fast).
 * Redis may lose it all: a node that finds the ranking incomplete rebuilds it from PostgreSQL.
 */
const RankingService: ServiceSchema<{ rest: string }, RankingMethods, RankingVars> = {
  name: "ranking",
  mixins: [RedisMixin(), durable],
  settings: { rest: "/rankings" },
  actions: {
    concerts: {
      rest: "GET /concerts",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      params: { limit: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true, default: 10 } },
      async handler(ctx: Context<{ limit: number }>): Promise<RankingEntry[]> {
        const ranked = await this.ranking.top(ctx.params.limit);
        const titles = await Promise.all(ranked.map((entry) => this.concertTitle(ctx, entry.concertId)));
        // A concert deleted since its sales is left out rather than shown without a title.
        return ranked.flatMap((entry, i) => {
          const title = titles[i];
          return title === null ? [] : [{ concertId: entry.concertId, title, soldSeats: entry.soldSeats }];
        });
      },
    },
  },
  events: {
    "payment.completed": {
      params: saleParams,
      async handler(ctx: Context<PaymentSale>) {
        await this.ranking.recordSale(ctx.params);
      },
    },
    "payment.refunded": {
      params: saleParams,
      async handler(ctx: Context<PaymentSale>) {
        await this.ranking.recordRefund(ctx.params);
      },
    },
  },
  methods: {
    /** Rebuilds the ranking from the payments in PostgreSQL when Redis lost it (one node at a time). */
    async rebuildIfLost() {
      try {
        if (await this.ranking.isComplete()) return;
        const started = Date.now();
        const pages = (afterId: number) => this.broker.call<RecordedPayment[], { afterId: number; limit: number }>("payments.salesPage", { afterId, limit: REBUILD_PAGE });
        if (await this.ranking.rebuild(this.broker.nodeID, pages)) this.logger.info(`Ranking rebuilt from PostgreSQL in ${Date.now() - started} ms`);
      } catch (err) {
        // No payments node yet (starting up): quietly try again on the next check.
        const log = (err as { name?: string }).name === "ServiceNotFoundError" ? this.logger.debug : this.logger.warn;
        log.call(this.logger, `Ranking rebuild not done, retrying in ${REBUILD_CHECK_MS} ms: ${(err as Error).message}`);
      }
    },
    concertTitle(ctx: Context, concertId: number) {
      return this.titles.get(concertId, async () => {
        try {
          const concert = await ctx.call<{ title: string }, { concertId: number }>("catalog.getConcert", { concertId });
          return concert.title;
        } catch (err) {
          // By type, not class: an error from another node arrives as a plain MoleculerError.
          if ((err as { type?: string }).type === "CONCERT_NOT_FOUND") return null;
          throw err;
        }
      });
    },
  },
  created() {
    this.titles = new TitleCache(TITLE_TTL_MS);
  },
  started() {
    this.ranking = new ConcertRanking(this.redis, getConfig().redisPrefix);
    this.rebuildTimer = setInterval(() => {
      this.rebuilding ??= this.rebuildIfLost().finally(() => (this.rebuilding = undefined));
    }, REBUILD_CHECK_MS);
  },
  async stopped() {
    clearInterval(this.rebuildTimer);
    await this.rebuilding;
  },
};

export default RankingService;
