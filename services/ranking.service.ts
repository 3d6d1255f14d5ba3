import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";
import { ConcertRanking } from "../modules/ranking/concert-ranking";
import { TitleCache } from "../modules/ranking/title-cache";

export interface RankingEntry {
  concertId: number;
  title: string;
  soldSeats: number;
}

interface RankingMethods {
  concertTitle(ctx: Context, concertId: number): Promise<string | null>;
}

interface RankingVars extends RedisMethods, RankingMethods {
  ranking: ConcertRanking;
  titles: TitleCache;
}

const TITLE_TTL_MS = 60_000;
const id = { type: "number", integer: true, positive: true } as const;

/** Best-selling concerts: seats sold per concert, counted once per payment (SPEC invariant 7). */
const RankingService: ServiceSchema<{ rest: string }, RankingMethods, RankingVars> = {
  name: "ranking",
  mixins: [RedisMixin()],
  settings: { rest: "/rankings" },
  actions: {
    concerts: {
      rest: "GET /concerts",
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
      params: { paymentId: id, concertId: id, seatIds: { type: "array", items: id } },
      async handler(ctx: Context<{ paymentId: number; concertId: number; seatIds: number[] }>) {
        await this.ranking.recordSale(ctx.params);
      },
    },
  },
  methods: {
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
  },
};

export default RankingService;
