import type { Context, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";
import { PositiveLookupCache } from "../modules/queue/concert-check";
import { configuredRate, rateWindowMs } from "../modules/queue/queue-eta";
import { recordAdmissionRound, recordQueueLengths, registerQueueMetrics } from "../modules/queue/queue-metrics";
import { QueueStore, type AdmissionPolicy, type AdmissionRound } from "../modules/queue/queue-store";
import { newNonce, signQueueToken, verifyQueueToken, type QueueTokenClaims } from "../modules/queue/queue-token";
import { statusView, type RateSettings } from "../modules/queue/queue-view";

interface QueueMeta {
  user?: { id: string };
  queueToken?: string;
  $statusCode?: number;
  $location?: string;
}

interface QueueMethods {
  caller(ctx: Context<unknown, QueueMeta>): string;
  claims(ctx: Context<unknown, QueueMeta>): QueueTokenClaims;
  admissionRound(): Promise<AdmissionRound[]>;
  leasedRound(): Promise<{ ran: boolean; rounds: AdmissionRound[] }>;
  scheduledRound(): Promise<void>;
  refreshGauges(concertIds: number[], rounds?: AdmissionRound[]): Promise<void>;
}

interface QueueVars extends RedisMethods {
  store: QueueStore;
  policy: AdmissionPolicy;
  rates: RateSettings;
  admitIntervalMs: number;
  tokenSecret: string;
  knownConcerts: PositiveLookupCache<number>;
  roundSeq: number;
  admitTimer?: NodeJS.Timeout;
  roundInFlight?: Promise<void>;
  gaugedConcerts: Set<number>;
}

const concertIdParam = { type: "number", integer: true, positive: true, convert: true } as const;
const CONCERT_CHECK_TTL_MS = 30_000;

/** The waiting queue: FIFO entry per concert, timed admission to ACTIVE, signed queue tokens. */
const QueueService: ServiceSchema<Record<string, unknown>, QueueMethods, QueueVars> = {
  name: "queue",
  mixins: [RedisMixin()],
  settings: { rest: "/" },
  actions: {
    /** Joins the concert's queue; the same user again gets the same token and place (200). */
    enter: {
      rest: "POST /concerts/:concertId/queue",
      auth: "required",
      params: { concertId: concertIdParam },
      async handler(ctx: Context<{ concertId: number }, QueueMeta>) {
        const userId = this.caller(ctx);
        const { concertId } = ctx.params;
        await this.knownConcerts.ensure(concertId, () => ctx.call("catalog.getConcert", { concertId }));
        const entry = await this.store.enter(concertId, userId, newNonce(), this.policy.rateWindowMs);
        ctx.meta.$statusCode = entry.created ? 201 : 200;
        // A 201 names the created resource: the caller's queue entry.
        if (entry.created) ctx.meta.$location = "/api/queue/me";
        const token = signQueueToken({ userId, concertId, nonce: entry.nonce }, this.tokenSecret);
        return { token, ...statusView(entry, this.rates) };
      },
    },
    /** Where the caller's queue token (X-Queue-Token) stands. */
    status: {
      rest: "GET /queue/me",
      auth: "required",
      params: {},
      async handler(ctx: Context<unknown, QueueMeta>) {
        const claims = this.claims(ctx);
        const state = await this.store.state(claims.concertId, claims.userId, claims.nonce, this.policy.rateWindowMs);
        return { concertId: claims.concertId, ...statusView(state, this.rates) };
      },
    },
    /** Leaves the queue (waiting or active); the token becomes EXPIRED. */
    leave: {
      rest: "DELETE /queue/me",
      auth: "required",
      params: {},
      async handler(ctx: Context<unknown, QueueMeta>) {
        const claims = this.claims(ctx);
        await this.store.remove(claims.concertId, claims.userId, claims.nonce);
        ctx.meta.$statusCode = 204;
        return null;
      },
    },
    /**
     * Internal: one admission round over every concert, now. The scheduler calls it with
     * `lease: true` (only the node holding the round's lease admits); tests call it directly.
     */
    admitTick: {
      params: { lease: { type: "boolean", optional: true } },
      async handler(ctx: Context<{ lease?: boolean }>) {
        if (ctx.params.lease) return this.leasedRound();
        return { ran: true, rounds: await this.admissionRound() };
      },
    },
  },
  events: {
    /** A paid user is done with the queue: free the place, the token becomes EXPIRED. */
    "payment.completed": {
      params: { userId: "string", concertId: concertIdParam },
      async handler(ctx: Context<{ userId: string; concertId: number }>) {
        await this.store.remove(ctx.params.concertId, ctx.params.userId);
      },
    },
  },
  methods: {
    caller(ctx: Context<unknown, QueueMeta>) {
      const user = ctx.meta.user;
      if (!user?.id) throw domainError("UNAUTHORIZED", "This endpoint needs an Authorization: Bearer token");
      return user.id;
    },
    /** The verified claims of the caller's own queue token, or 401 QUEUE_TOKEN_INVALID. */
    claims(ctx: Context<unknown, QueueMeta>) {
      const userId = this.caller(ctx);
      const claims = verifyQueueToken(ctx.meta.queueToken, this.tokenSecret);
      if (!claims || claims.userId !== userId) {
        throw domainError("QUEUE_TOKEN_INVALID", "Missing, forged or someone else's queue token (X-Queue-Token)");
      }
      return claims;
    },
    async admissionRound() {
      const concertIds = await this.store.concerts();
      const roundId = `${this.broker.nodeID}.${++this.roundSeq}`;
      const rounds = await Promise.all(concertIds.map((id) => this.store.admit(id, this.policy, roundId)));
      await this.refreshGauges(concertIds, rounds);
      return rounds;
    },
    /**
     * A round only if this node takes the lease. The lease lasts 80% of the interval: rounds of all
     * nodes together are at least that far apart, and a node whose timer fires a little early still
     * gets its next turn. Correctness never depends on it: each round is one atomic script.
     */
    async leasedRound() {
      if (!(await this.store.tryAdmitLease(this.broker.nodeID, Math.floor(this.admitIntervalMs * 0.8)))) {
        return { ran: false, rounds: [] };
      }
      return { ran: true, rounds: await this.admissionRound() };
    },
    /** Every node ticks; the one that gets the lease admits, the others only refresh their gauges. */
    async scheduledRound() {
      if (this.roundInFlight) return;
      this.roundInFlight = (async () => {
        try {
          const result = await this.leasedRound();
          if (!result.ran && this.broker.isMetricsEnabled()) await this.refreshGauges(await this.store.concerts());
        } catch (err) {
          this.logger.warn("Queue admission round failed", err);
        } finally {
          this.roundInFlight = undefined;
        }
      })();
      await this.roundInFlight;
    },
    async refreshGauges(concertIds: number[], rounds?: AdmissionRound[]) {
      if (!this.broker.isMetricsEnabled()) return;
      for (const round of rounds ?? []) recordAdmissionRound(this.broker, round, this.admitIntervalMs);
      if (!rounds) {
        const lengths = await Promise.all(concertIds.map((id) => this.store.lengths(id)));
        concertIds.forEach((id, i) => recordQueueLengths(this.broker, id, lengths[i]));
      }
      // A concert whose queue emptied leaves the set: report it empty once, then forget it.
      for (const id of this.gaugedConcerts) {
        if (!concertIds.includes(id)) recordQueueLengths(this.broker, id, { waiting: 0, active: 0 });
      }
      this.gaugedConcerts = new Set(concertIds);
    },
  },
  created() {
    const config = getConfig();
    this.admitIntervalMs = config.queueAdmitIntervalMs;
    this.policy = {
      batch: config.queueAdmitBatch,
      activeMax: config.queueActiveMax,
      activeTtlMs: config.queueActiveTtlS * 1000,
      rateWindowMs: rateWindowMs(config.queueAdmitIntervalMs),
    };
    this.rates = {
      admitIntervalMs: config.queueAdmitIntervalMs,
      fallbackRate: configuredRate(config.queueAdmitBatch, config.queueAdmitIntervalMs),
    };
    this.tokenSecret = config.queueTokenSecret;
    this.knownConcerts = new PositiveLookupCache<number>(CONCERT_CHECK_TTL_MS);
    this.roundSeq = 0;
    this.gaugedConcerts = new Set();
    registerQueueMetrics(this.broker);
  },
  async started() {
    this.store = new QueueStore(this.redis, getConfig().redisPrefix);
    this.admitTimer = setInterval(() => void this.scheduledRound(), this.admitIntervalMs);
  },
  async stopped() {
    clearInterval(this.admitTimer);
    await this.roundInFlight;
  },
};

export default QueueService;
