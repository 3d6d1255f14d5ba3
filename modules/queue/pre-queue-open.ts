/**
 * The opening of a pre-queue (SPEC §8): at saleOpensAt everyone in the pre-queue is placed ahead of
 * every later arrival in a uniformly random order, once, by one node.
 *
 * - One node at a time: a per-concert lease (SET NX PX), renewed by every chunk; a chunk is refused
 *   unless the caller still holds the lease, so a node that stalled past its lease cannot interleave
 *   with the node that took over.
 * - The order: Fisher–Yates with crypto.randomInt over the pre-queue members.
 * - Chunks are atomic and idempotent: a chunk moves only users still in the pre-queue set, and gives
 *   them the next scores of a per-concert counter, below every sequence number of later arrivals
 *   (PRE_BASE is negative). If the node dies mid-way, the next holder shuffles what is left and
 *   appends it: a uniformly random subset in a uniformly random order after a uniformly random
 *   prefix is still a uniform permutation, and nobody is placed twice.
 * - Admission waits (ADMIT admits nobody while the pre-queue set is not empty).
 */
import { randomInt } from "node:crypto";
import type { RedisClient } from "../../mixins/redis.mixin";
import { queueKeys } from "./queue-keys";

/** Scores of shuffled users start here: every later arrival's sequence number (≥ 1) sorts behind. */
export const PRE_BASE = -1_000_000_000_000;
export const SHUFFLE_CHUNK = 1000;
export const SHUFFLE_LEASE_MS = 15_000;

/**
 * KEYS: pre, waiting, placed, lease, ver; ARGV: owner, leaseMs, channel, preBase, users...
 * Returns {placed in this chunk, left in the pre-queue}, or {-1, -1} when the lease is not ours.
 */
const CHUNK = `
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {-1, -1} end
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[2]))
local base = tonumber(redis.call('GET', KEYS[3]) or '0')
local placed = 0
for i = 5, #ARGV do
  if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then
    placed = placed + 1
    redis.call('ZADD', KEYS[2], tonumber(ARGV[4]) + base + placed, ARGV[i])
  end
end
redis.call('SET', KEYS[3], base + placed)
local left = redis.call('SCARD', KEYS[1])
if left == 0 then
  local v = redis.call('INCR', KEYS[5])
  redis.call('PUBLISH', ARGV[3], cjson.encode({t = 'open', v = v}))
end
return {placed, left}`;

/** KEYS: lease; ARGV: owner. Releases the lease only if it is still ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Script = (...args: Array<string | number>) => Promise<unknown>;

/** Fisher–Yates with a cryptographic source: every permutation equally likely. */
export function cryptoShuffle<T>(items: T[], random: (maxExclusive: number) => number = randomInt): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random(i + 1);
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
  return items;
}

export interface OpeningResult {
  /** False when another node holds the lease (or the pre-queue was already empty). */
  ran: boolean;
  placed: number;
  /** The lease was lost mid-way: another node continues. */
  interrupted: boolean;
}

export class PreQueueOpener {
  private readonly chunk: Script;
  private readonly release: Script;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly leaseMs = SHUFFLE_LEASE_MS,
    private readonly chunkSize = SHUFFLE_CHUNK,
  ) {
    redis.defineCommand("concertQueueOpenChunk", { numberOfKeys: 5, lua: CHUNK });
    redis.defineCommand("concertQueueOpenRelease", { numberOfKeys: 1, lua: RELEASE });
    const commands = redis as unknown as Record<string, Script>;
    this.chunk = (...args) => commands.concertQueueOpenChunk.call(redis, ...args);
    this.release = (...args) => commands.concertQueueOpenRelease.call(redis, ...args);
  }

  /** Shuffles the concert's pre-queue into the line if this node gets the lease. */
  async open(concertId: number, owner: string): Promise<OpeningResult> {
    const k = queueKeys(this.prefix, concertId);
    if ((await this.redis.set(k.shuffleLease, owner, "PX", this.leaseMs, "NX")) !== "OK") {
      return { ran: false, placed: 0, interrupted: false };
    }
    let placed = 0;
    try {
      const order = cryptoShuffle(await this.redis.smembers(k.pre));
      if (order.length === 0) return { ran: false, placed: 0, interrupted: false };
      for (let i = 0; i < order.length; i += this.chunkSize) {
        const users = order.slice(i, i + this.chunkSize);
        const [moved] = (await this.chunk(k.pre, k.waiting, k.placed, k.shuffleLease, k.ver, owner, this.leaseMs, k.events, PRE_BASE, ...users)) as number[];
        if (moved < 0) return { ran: true, placed, interrupted: true };
        placed += moved;
      }
      return { ran: true, placed, interrupted: false };
    } finally {
      await this.release(k.shuffleLease, owner).catch(() => undefined);
    }
  }
}
