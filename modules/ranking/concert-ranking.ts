import type { RedisClient } from "../../mixins/redis.mixin";

/** The hash tag of every ranking key (without braces). */
export const RANKING_SLOT_TAG = "rank";

/**
 * Redis key layout of the concert ranking (under the configured REDIS_PREFIX). Every key carries the
 * hash tag {rank}: a payment's dedup marker and the one ranking ZSET are written by one script, so on
 * a Redis Cluster they must share a slot (one master holds the ranking; it is written once per payment).
 *   ranking:{rank}:concerts             ZSET concertId -> seats sold (refunded seats subtracted)
 *   ranking:{rank}:counted:<paymentId>  STRING, set once the payment's seats were added (dedup marker)
 *   ranking:{rank}:refunded:<paymentId> STRING, set once the payment's seats were subtracted
 *   ranking:{rank}:complete             STRING, set when the ranking holds every payment of PostgreSQL:
 *                                       missing after Redis lost its data, which starts a rebuild
 *   ranking:{rank}:rebuild-lease        STRING holder token: the node rebuilding right now
 */
export function rankingKeys(prefix: string) {
  const base = `${prefix}ranking:{${RANKING_SLOT_TAG}}:`;
  return {
    concerts: `${base}concerts`,
    counted: (paymentId: number) => `${base}counted:${paymentId}`,
    refunded: (paymentId: number) => `${base}refunded:${paymentId}`,
    complete: `${base}complete`,
    rebuildLease: `${base}rebuild-lease`,
  };
}

/**
 * How long a payment is remembered as counted: longer than Kafka keeps a message (7 days), so a
 * redelivery always finds its marker.
 */
export const COUNTED_TTL_S = 30 * 24 * 3600;

/**
 * KEYS: counted marker, ranking ZSET; ARGV: concertId, seats, marker TTL (s).
 * Marks and adds in one atomic step, so two nodes handling the same event add it once.
 * Returns 1 when added, 0 when this payment was counted before.
 */
const COUNT_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('ZINCRBY', KEYS[2], ARGV[2], ARGV[1])
  return 1
end
return 0`;

/**
 * KEYS: rebuild lease, complete marker; ARGV: lease token. Marks the ranking complete only if the
 * lease taken when the rebuild began is still there: a Redis flush during the rebuild dropped it
 * (and half of what was rebuilt), so the next check starts over.
 */
const FINISH_REBUILD = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], '1')
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

export interface RankedConcert {
  concertId: number;
  soldSeats: number;
}

export interface PaymentSale {
  paymentId: number;
  concertId: number;
  seatIds: number[];
}

/** One payment as the rebuild reads it from PostgreSQL. */
export interface RecordedPayment extends PaymentSale {
  refunded: boolean;
}

type RankingRedis = RedisClient & {
  rankingCountOnce(marker: string, ranking: string, concertId: number, seats: number, ttlS: number): Promise<number>;
  rankingFinishRebuild(lease: string, complete: string, token: string): Promise<number>;
};

export class ConcertRanking {
  private readonly keys: ReturnType<typeof rankingKeys>;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = rankingKeys(prefix);
    // Registered once per client (EVALSHA, falling back to EVAL when Redis lost the script).
    if (!("rankingCountOnce" in redis)) redis.defineCommand("rankingCountOnce", { numberOfKeys: 2, lua: COUNT_ONCE });
    if (!("rankingFinishRebuild" in redis)) redis.defineCommand("rankingFinishRebuild", { numberOfKeys: 2, lua: FINISH_REBUILD });
  }

  /** Adds a payment's seats to its concert, once per paymentId. True when this call counted it. */
  async recordSale(sale: PaymentSale): Promise<boolean> {
    if (sale.seatIds.length === 0) return false;
    const added = await (this.redis as RankingRedis).rankingCountOnce(
      this.keys.counted(sale.paymentId),
      this.keys.concerts,
      sale.concertId,
      sale.seatIds.length,
      COUNTED_TTL_S,
    );
    return added === 1;
  }

  /** Takes a refunded payment's seats off its concert, once per paymentId (SPEC §7). */
  async recordRefund(sale: PaymentSale): Promise<boolean> {
    if (sale.seatIds.length === 0) return false;
    const subtracted = await (this.redis as RankingRedis).rankingCountOnce(
      this.keys.refunded(sale.paymentId),
      this.keys.concerts,
      sale.concertId,
      -sale.seatIds.length,
      COUNTED_TTL_S,
    );
    return subtracted === 1;
  }

  /** The best-selling concerts, most seats first (concerts with nothing sold left out). */
  async top(limit: number): Promise<RankedConcert[]> {
    const flat = await this.redis.zrange(this.keys.concerts, "+inf", "(0", "BYSCORE", "REV", "LIMIT", 0, limit, "WITHSCORES");
    return parseRanking(flat);
  }

  /** False after Redis lost the ranking (or before the first rebuild). */
  async isComplete(): Promise<boolean> {
    return (await this.redis.exists(this.keys.complete)) === 1;
  }

  /**
   * Recounts every payment PostgreSQL knows, page by page, unless another node is doing it.
   * Safe alongside live events: each payment is counted (and each refund subtracted) once by its
   * marker, whichever comes first. Returns false when another node holds the rebuild.
   */
  async rebuild(owner: string, pages: (afterId: number) => Promise<RecordedPayment[]>, leaseMs = 120_000): Promise<boolean> {
    const token = `${owner}:${Date.now()}`;
    if ((await this.redis.set(this.keys.rebuildLease, token, "PX", leaseMs, "NX")) !== "OK") return false;
    let afterId = 0;
    for (;;) {
      const page = await pages(afterId);
      for (const payment of page) {
        await this.recordSale(payment);
        if (payment.refunded) await this.recordRefund(payment);
      }
      if (page.length === 0) break;
      afterId = page[page.length - 1].paymentId;
      await this.redis.pexpire(this.keys.rebuildLease, leaseMs);
    }
    return (await (this.redis as RankingRedis).rankingFinishRebuild(this.keys.rebuildLease, this.keys.complete, token)) === 1;
  }
}

/** ZRANGE … WITHSCORES answers [member, score, member, score, …]. */
export function parseRanking(flat: string[]): RankedConcert[] {
  const ranked: RankedConcert[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    ranked.push({ concertId: Number(flat[i]), soldSeats: Number(flat[i + 1]) });
  }
  return ranked;
}
