import type Redis from "ioredis";

/**
 * Redis key layout of the concert ranking (under the configured REDIS_PREFIX):
 *   ranking:concerts            ZSET concertId -> seats sold
 *   ranking:counted:{paymentId} STRING, set once the payment's seats were added (dedup marker)
 */
export function rankingKeys(prefix: string) {
  return {
    concerts: `${prefix}ranking:concerts`,
    counted: (paymentId: number) => `${prefix}ranking:counted:${paymentId}`,
  };
}

/** How long a payment is remembered as counted; redeliveries of an event come within seconds. */
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

export interface RankedConcert {
  concertId: number;
  soldSeats: number;
}

export interface PaymentSale {
  paymentId: number;
  concertId: number;
  seatIds: number[];
}

type RankingRedis = Redis & { rankingCountOnce(counted: string, ranking: string, concertId: number, seats: number, ttlS: number): Promise<number> };

export class ConcertRanking {
  private readonly keys: ReturnType<typeof rankingKeys>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = rankingKeys(prefix);
    // Registered once per client (EVALSHA, falling back to EVAL when Redis lost the script).
    if (!("rankingCountOnce" in redis)) redis.defineCommand("rankingCountOnce", { numberOfKeys: 2, lua: COUNT_ONCE });
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

  /** The best-selling concerts, most seats first. */
  async top(limit: number): Promise<RankedConcert[]> {
    const flat = await this.redis.zrange(this.keys.concerts, 0, limit - 1, "REV", "WITHSCORES");
    return parseRanking(flat);
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
