import type { Context, Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError, validationError } from "../lib/errors";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { DurableEventsMixin } from "../mixins/durable-events.mixin";
import { RedisMixin, type RedisMethods } from "../mixins/redis.mixin";
import { shouldExpirePaidEntry } from "../modules/queue/paid-entry";
import { rateWindowMs } from "../modules/queue/queue-eta";
import { recordAdmissionRound, recordQueueLengths, registerQueueMetrics } from "../modules/queue/queue-metrics";
import { QueueStore, type AdmissionPolicy, type AdmissionRound } from "../modules/queue/queue-store";
import { newNonce, signQueueToken, verifyQueueToken, type QueueTokenClaims } from "../modules/queue/queue-token";
import { retryAfterSeconds, statusView } from "../modules/queue/queue-view";
import { QueueOpeningMixin, type QueueOpeningMethods } from "../mixins/queue-opening.mixin";
import { QueueControlCache } from "../modules/queue/queue-control-cache";
import {
  ADMITTED_WINDOW_MS,
  CONTROL_LIMITS,
  admissionPolicyOf,
  admitWake,
  minElapsedMs,
  nodeTickMs,
  operatorQueueView,
  patchOf,
  patchProblem,
  queuePhase,
  rateSettingsOf,
  type OperatorQueueView,
  type QueueControls,
} from "../modules/queue/queue-control-rules";
import { loadControls, saveControls } from "../modules/queue/queue-control-store";
import { CALL_TIMEOUT_MS, RETRY } from "../lib/call-policy";

interface QueueMeta {
  user?: { id: string };
  queueToken?: string;
  $statusCode?: number;
  $location?: string;
  $responseHeaders?: Record<string, string>;
}

interface QueueMethods {
  caller(ctx: Context<unknown, QueueMeta>): string;
  claims(ctx: Context<unknown, QueueMeta>): QueueTokenClaims;
  admissionRound(scheduled: boolean): Promise<AdmissionRound[]>;
  leasedRound(): Promise<{ ran: boolean; rounds: AdmissionRound[] }>;
  scheduledRound(): Promise<void>;
  wake(): Promise<void>;
  rateControls(concertId: number): Promise<QueueControls>;
  operatorView(ctx: Context, concertId: number): Promise<OperatorQueueView>;
  refreshGauges(concertIds: number[], rounds?: AdmissionRound[], controls?: Map<number, QueueControls>): Promise<void>;
  scheduleWake(): void;
}

interface QueueVars extends RedisMethods, OrmMethods, QueueOpeningMethods {
  store: QueueStore;
  /** The environment's policy; each concert's own comes from its controls (queue_control). */
  policy: AdmissionPolicy;
  admitIntervalMs: number;
  controls: QueueControlCache;
  /** The shortest interval among the concerts this node admits (the scheduler's tick). */
  tickMs: number;
  lastAttemptMs: number;
  tokenSecret: string;
  roundSeq: number;
  admitTimer?: NodeJS.Timeout;
  stopping?: boolean;
  roundInFlight?: Promise<void>;
  wakeInFlight?: Promise<void>;
  gaugedConcerts: Set<number>;
}

const concertIdParam = { type: "number", integer: true, positive: true, convert: true } as const;
/** An operator's setting in a PATCH body (a JSON number; null = back to the environment default). */
const controlParam = (limits: { min: number; max: number }) =>
  ({ type: "number", integer: true, min: limits.min, max: limits.max, optional: true, nullable: true }) as const;

/** The durable source of "a paid user's token is EXPIRED" (SPEC §9): the payment.completed topic. */
const durablePaidEntries = DurableEventsMixin<Service & QueueVars>("queue", {
  async "payment.completed"(payment) {
    if (!shouldExpirePaidEntry(payment.paidAt, this.policy.activeTtlMs)) return;
    await this.store.remove(Number(payment.concertId), String(payment.userId));
  },
});
/** Idle places given back per concert per round at most: bounds a round's cost (SPEC §8). */
const IDLE_REAP_MAX = 2000;

/** The waiting queue: FIFO entry per concert, timed admission to ACTIVE, signed queue tokens. */
const QueueService: ServiceSchema<Record<string, unknown>, QueueMethods, QueueVars> = {
  name: "queue",
  mixins: [RedisMixin(), OrmMixin(), QueueOpeningMixin(), durablePaidEntries],
  settings: { rest: "/" },
  actions: {
    /** Joins the concert's queue; the same user again gets the same token and place (200). */
    enter: {
      rest: "POST /concerts/:concertId/queue",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // entering again keeps the token and place (single by the entry)
      auth: "required",
      params: { concertId: concertIdParam },
      async handler(ctx: Context<{ concertId: number }, QueueMeta>) {
        const userId = this.caller(ctx);
        const { concertId } = ctx.params;
        // 404 for an unknown concert; its windows decide CLOSED / PRE_QUEUE / OPEN (on the Redis clock).
        const windows = await this.entryWindows(concertId);
        const controls = await this.rateControls(concertId);
        const entry = await this.store.enter(concertId, userId, newNonce(), rateWindowMs(controls.admitIntervalMs), windows);
        if ("closed" in entry) {
          const opensAt = new Date(windows.queueOpensMs ?? entry.nowMs).toISOString();
          throw domainError("QUEUE_NOT_OPEN", "The queue of this concert is not open yet", { concertId, opensAt });
        }
        ctx.meta.$statusCode = entry.created ? 201 : 200;
        // A 201 names the created resource: the caller's queue entry.
        if (entry.created) ctx.meta.$location = "/api/queue/me";
        const token = signQueueToken({ userId, concertId, nonce: entry.nonce }, this.tokenSecret);
        return { token, ...statusView(entry, rateSettingsOf(controls)) };
      },
    },
    /** Where the caller's queue token (X-Queue-Token) stands. */
    status: {
      rest: "GET /queue/me",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "required",
      params: {},
      async handler(ctx: Context<unknown, QueueMeta>) {
        const claims = this.claims(ctx);
        const controls = await this.rateControls(claims.concertId);
        const state = await this.store.state(claims.concertId, claims.userId, claims.nonce, rateWindowMs(controls.admitIntervalMs));
        const view = statusView(state, rateSettingsOf(controls));
        const retryAfter = retryAfterSeconds(view, getConfig().queueWaitingIdleS);
        if (retryAfter !== null) ctx.meta.$responseHeaders = { "Retry-After": String(retryAfter) };
        return { concertId: claims.concertId, ...view };
      },
    },
    /** Leaves the queue (waiting or active); the token becomes EXPIRED. */
    leave: {
      rest: "DELETE /queue/me",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.nodeGone, // single by state, but a repeat after an unseen success is refused (token gone)
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
     * `lease: true` (only the node holding the round's lease admits, and each concert only when its
     * interval has passed); a direct call (tests) admits every concert now, still by its controls.
     */
    admitTick: {
      params: { lease: { type: "boolean", optional: true } },
      async handler(ctx: Context<{ lease?: boolean }>) {
        if (ctx.params.lease) return this.leasedRound();
        return { ran: true, rounds: await this.admissionRound(false) };
      },
    },
    /** Operator: the concert's queue and its live controls (SPEC §7). */
    controls: {
      rest: "GET /admin/concerts/:id/queue",
      timeout: CALL_TIMEOUT_MS.read,
      retryPolicy: RETRY.safe, // read: repeating changes nothing
      auth: "admin",
      params: { id: concertIdParam },
      handler(ctx: Context<{ id: number }>) {
        return this.operatorView(ctx, ctx.params.id);
      },
    },
    /** Operator: change any of the controls; every node follows within one admission interval. */
    updateControls: {
      rest: "PATCH /admin/concerts/:id/queue",
      timeout: CALL_TIMEOUT_MS.write,
      retryPolicy: RETRY.safe, // sets controls: a repeat sets the same values
      auth: "admin",
      params: {
        $$strict: true,
        id: concertIdParam,
        paused: { type: "boolean", optional: true },
        admitBatch: controlParam(CONTROL_LIMITS.admitBatch),
        admitIntervalMs: controlParam(CONTROL_LIMITS.admitIntervalMs),
        activeMax: controlParam(CONTROL_LIMITS.activeMax),
      },
      async handler(ctx: Context<Record<string, unknown> & { id: number }>) {
        const patch = patchOf(ctx.params);
        const problem = patchProblem(patch);
        if (problem) throw validationError(problem.field, problem.message);
        await ctx.call("catalog.getConcert", { concertId: ctx.params.id });
        // This node follows at once; the others when their cached copy (at most one interval old) lapses.
        this.controls.put(ctx.params.id, await saveControls(this.em(), ctx.params.id, patch));
        return this.operatorView(ctx, ctx.params.id);
      },
    },
  },
  events: {
    /** A paid user is done with the queue: free the place, the token becomes EXPIRED (fast path). */
    "payment.completed": {
      params: { userId: "string", concertId: concertIdParam },
      async handler(ctx: Context<{ userId: string; concertId: number }>) {
        await this.store.remove(ctx.params.concertId, ctx.params.userId);
      },
    },
    /** A live hold keeps its buyer ACTIVE at least until the hold ends (SPEC §8). */
    "reservation.held": {
      params: { userId: "string", concertId: concertIdParam, expiresAt: "string" },
      async handler(ctx: Context<{ userId: string; concertId: number; expiresAt: string }>) {
        const untilMs = Date.parse(ctx.params.expiresAt);
        if (Number.isFinite(untilMs)) await this.store.extendActive(ctx.params.concertId, ctx.params.userId, untilMs);
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
    /**
     * One round over every queued concert, each by its own controls (paused: batch 0, which still
     * drops expired actives). A scheduled round admits a concert only when its own interval has
     * passed since its last round, whichever node ran that (the Redis clock decides, in the script).
     * Only rounds that ran are returned.
     */
    async admissionRound(scheduled: boolean) {
      const concertIds = await this.store.concerts();
      const controls = await this.controls.getManyOrKnown(concertIds, (err) => this.logger.warn("Queue controls not loaded", err));
      this.tickMs = nodeTickMs(this.admitIntervalMs, controls.values());
      const roundId = `${this.broker.nodeID}.${++this.roundSeq}`;
      // A concert whose controls this node has never seen is left alone (it may be paused).
      const admitted = concertIds.filter((id) => controls.has(id));
      const rounds = await Promise.all(
        admitted.map((id) => {
          const own = controls.get(id) as QueueControls;
          const rates = { admitIntervalMs: own.admitIntervalMs, rateBatch: own.admitBatch };
          return this.store.admit(id, admissionPolicyOf(own, this.policy.activeTtlMs), roundId, scheduled ? minElapsedMs(own, this.tickMs) : 0, rates);
        }),
      );
      const ran = rounds.filter((round) => round.ran);
      for (const round of ran) if (round.prePending) this.openPreQueue(round.concertId, round.nowMs);
      await this.refreshGauges(concertIds, ran, controls);
      return ran;
    },
    /**
     * A round only if this node takes the lease. The lease lasts 80% of the node's tick: rounds of
     * all nodes together are at least that far apart, and a node whose timer fires a little early
     * still gets its next turn. Correctness never depends on it: each round is one atomic script,
     * and each concert's interval is checked inside it.
     */
    async leasedRound() {
      if (!(await this.store.tryAdmitLease(this.broker.nodeID, Math.floor(this.tickMs * 0.8)))) {
        return { ran: false, rounds: [] };
      }
      return { ran: true, rounds: await this.admissionRound(true) };
    },
    /**
     * The scheduler's wake-up (at least every MAX_ADMIT_SLEEP_MS): learn the tick from the queued
     * concerts' controls (cached for at most an interval), and try a leased round once a tick has
     * passed since this node's last try.
     */
    async wake() {
      const concertIds = await this.store.concerts();
      const controls = await this.controls.getManyOrKnown(concertIds, (err) => this.logger.warn("Queue controls not loaded", err));
      this.tickMs = nodeTickMs(this.admitIntervalMs, controls.values());
      if (!admitWake(Date.now() - this.lastAttemptMs, this.tickMs).attempt) return;
      this.lastAttemptMs = Date.now();
      await this.scheduledRound();
    },
    /** A concert's controls for its ETA; when PostgreSQL cannot be asked, the last known (or defaults). */
    async rateControls(concertId: number) {
      try {
        return await this.controls.get(concertId);
      } catch {
        return this.controls.peek(concertId);
      }
    },
    /** The operator's view, read fresh from PostgreSQL and Redis (and refreshing this node's copy). */
    async operatorView(ctx: Context, concertId: number) {
      const concert = await ctx.call<{ queueOpensAt?: string | null; saleOpensAt?: string | null }, { concertId: number }>(
        "catalog.getConcert",
        { concertId },
      );
      const controls = this.controls.put(concertId, (await loadControls(this.em(), [concertId])).get(concertId));
      const counts = await this.store.overview(concertId, ADMITTED_WINDOW_MS);
      return operatorQueueView(concertId, queuePhase(concert, counts.nowMs), controls, counts);
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
    /** The scheduler: one timer per node, re-armed after each wake-up for when the tick is next due. */
    scheduleWake() {
      const { sleepMs } = admitWake(Date.now() - this.lastAttemptMs, this.tickMs);
      this.admitTimer = setTimeout(() => {
        this.wakeInFlight = this.wake()
          .catch((err: unknown) => this.logger.warn("Queue admission wake-up failed", err))
          .finally(() => {
            this.wakeInFlight = undefined;
            if (!this.stopping) this.scheduleWake();
          });
      }, sleepMs);
    },
    async refreshGauges(concertIds: number[], rounds?: AdmissionRound[], controls?: Map<number, QueueControls>) {
      if (!this.broker.isMetricsEnabled()) return;
      for (const round of rounds ?? []) {
        recordAdmissionRound(this.broker, round, controls?.get(round.concertId)?.admitIntervalMs ?? this.admitIntervalMs);
      }
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
    this.tokenSecret = config.queueTokenSecret;
    this.roundSeq = 0;
    this.gaugedConcerts = new Set();
    this.tickMs = config.queueAdmitIntervalMs;
    this.controls = new QueueControlCache((ids) => loadControls(this.em(), ids), {
      admitBatch: config.queueAdmitBatch,
      admitIntervalMs: config.queueAdmitIntervalMs,
      activeMax: config.queueActiveMax,
    });
    registerQueueMetrics(this.broker);
  },
  async started() {
    this.store = new QueueStore(this.redis, getConfig().redisPrefix, {
      idleMs: getConfig().queueWaitingIdleS * 1000,
      reapMax: IDLE_REAP_MAX,
      leftTtlMs: (getConfig().reservationHoldS + 60) * 1000,
    });
    this.stopping = false;
    this.lastAttemptMs = Date.now();
    this.scheduleWake();
  },
  async stopped() {
    this.stopping = true;
    clearTimeout(this.admitTimer);
    await this.wakeInFlight;
    await this.roundInFlight;
  },
};

export default QueueService;
