/**
 * A node that dies (SPEC §11), in one jest process on the real NATS: a caller node (like the
 * gateway) and worker nodes. A worker "dies" by closing its NATS connection without the graceful
 * DISCONNECT packet and stopping its heartbeats, which is what its peers see of a `kill -9`.
 * Asserted: every peer drops it within 5 s; pending calls to it are rejected at the drop (not at
 * their timeout) and, when safe, answered by the live node; a repeated payment or hold never takes
 * effect twice (checked in PostgreSQL).
 */
import type { ServiceBroker, ServiceSchema } from "moleculer";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import PointsService from "../../services/points.service";
import PaymentsService from "../../services/payments.service";
import ReservationsService from "../../services/reservations.service";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import { CALL_TIMEOUT_MS } from "../../lib/call-policy";
import { getConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { createConcertWithSeats, insertReservation, moneySnapshot } from "../support/payments-fixtures";

const WORKER_SERVICES = [CatalogService, QueueService, PointsService, PaymentsService, ReservationsService] as AnyServiceSchema[];
const DROP_BOUND_MS = 5_000;

/** What the peers of a `kill -9`ed node see: no DISCONNECT packet, no more heartbeats, no answers. */
async function dieAbruptly(broker: ServiceBroker): Promise<void> {
  broker.registry.discoverer.stopHeartbeatTimers();
  const tx = (broker.transit as unknown as { tx: { client: { close(): Promise<void> } } }).tx;
  await tx.client.close();
}

/** Stops a "dead" broker's services and resources; its NATS client is gone, so nothing is sent. */
async function stopDead(broker: ServiceBroker): Promise<void> {
  const transit = broker.transit as unknown as { connected: boolean; tx: { connected: boolean; client: unknown } };
  transit.connected = false;
  transit.tx.connected = false;
  transit.tx.client = null;
  await broker.stop();
}

/** `schema` whose `action` runs `around(original)` instead (the worker's handler of a scenario). */
function withAround(schema: AnyServiceSchema, action: string, around: (original: (ctx: any) => Promise<any>) => (ctx: any) => Promise<any>): ServiceSchema {
  const def = (schema.actions as Record<string, { handler: (ctx: any) => Promise<any> }>)[action];
  return {
    ...schema,
    actions: {
      ...schema.actions,
      [action]: {
        ...def,
        handler(this: unknown, ctx: any) {
          return around((c) => def.handler.call(this, c))(ctx);
        },
      },
    },
  } as ServiceSchema;
}

async function waitUntil(check: () => boolean, what: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

const endpointCount = (broker: ServiceBroker, action: string) => broker.registry.getActionEndpoints(action)?.endpoints.filter((ep) => ep.isAvailable).length ?? 0;
const isAvailable = (broker: ServiceBroker, nodeID: string) => broker.registry.nodes.get(nodeID)?.available === true;

describe("a worker node that dies", () => {
  let caller: ServiceBroker;
  let live: ServiceBroker;
  const dying: ServiceBroker[] = [];
  const releases: Array<() => void> = [];
  const em = () => (live.getLocalService("payments") as unknown as OrmMethods).em();

  /** A second worker with the scenario's handler; resolves once the caller routes to both. */
  async function startDoomed(nodeID: string, services: AnyServiceSchema[]): Promise<ServiceBroker> {
    const node = await startNode(services, { nodeID });
    dying.push(node);
    await waitUntil(() => isAvailable(caller, nodeID) && endpointCount(caller, "payments.create") === 2, `${nodeID} to be routed`, 15_000);
    return node;
  }

  beforeAll(async () => {
    caller = await startNode([], { nodeID: "fo-caller" });
    live = await startNode(WORKER_SERVICES, { nodeID: "fo-live" });
    await caller.waitForServices(["catalog", "payments", "points", "queue", "reservations"]);
  });
  afterAll(async () => {
    for (const release of releases) release();
    await Promise.all(dying.map((node) => stopDead(node)));
    await stopNodes(caller, live);
  });

  it("keeps live peers through a 3.5 s stall of this process (the silence was its own)", async () => {
    const drops: string[] = [];
    const onDrop = ({ node }: { node: { id: string } }) => drops.push(node.id);
    caller.localBus.on("$node.disconnected", onDrop);
    // Blocked inside a timer callback: the liveness check (a timer that fell due meanwhile) then
    // runs before the heartbeats that queued up on the socket are read.
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        const until = Date.now() + 3_500;
        while (Date.now() < until) {
          // busy: no timer, no socket read runs meanwhile
        }
        resolve();
      }, 0),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    caller.localBus.off("$node.disconnected", onDrop);
    expect(drops).toEqual([]);
    expect(isAvailable(caller, "fo-live")).toBe(true);
  });

  it("is dropped by every peer within 5 s, and no call is routed to it afterwards", async () => {
    let dead = false;
    let servedAfterDeath = 0;
    const counting = withAround(CatalogService, "listConcerts", (original) => (ctx) => {
      if (dead) servedAfterDeath++;
      return original(ctx);
    });
    const doomed = await startDoomed("fo-doomed-1", [counting, ...WORKER_SERVICES.slice(1)]);
    await waitUntil(() => isAvailable(live, "fo-doomed-1"), "the live worker to see it", 10_000);

    const diedAt = Date.now();
    dead = true;
    await dieAbruptly(doomed);
    const [callerMs, liveMs] = await Promise.all([
      waitUntil(() => !isAvailable(caller, "fo-doomed-1"), "the caller to drop it", 10_000),
      waitUntil(() => !isAvailable(live, "fo-doomed-1"), "the live worker to drop it", 10_000),
    ]);
    process.stderr.write(`dead node dropped after ${callerMs} ms (caller), ${liveMs} ms (live worker)\n`);
    expect(callerMs).toBeLessThan(DROP_BOUND_MS);
    expect(liveMs).toBeLessThan(DROP_BOUND_MS);
    expect(Date.now() - diedAt).toBeLessThan(DROP_BOUND_MS + 500);

    // Only the live node is left for every action, and 20 reads all succeed there at once.
    expect(endpointCount(caller, "catalog.listConcerts")).toBe(1);
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, () => caller.call<unknown[]>("catalog.listConcerts")));
    expect(results.every(Array.isArray)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(servedAfterDeath).toBe(0);
  });

  it("rejects reads pending on it at once and answers them from the live node (none waits out a timeout)", async () => {
    const concertId = await createConcert(em(), "Failover Reads", "Hall");
    let stuck = 0;
    const hanging = withAround(CatalogService, "listConcerts", () => () => {
      stuck++;
      // The node dies with these in flight; they end with the test (so its broker can stop).
      return new Promise((resolve) => releases.push(() => resolve([])));
    });
    const doomed = await startDoomed("fo-doomed-2", [hanging, ...WORKER_SERVICES.slice(1)]);

    const started = Date.now();
    const calls = Array.from({ length: 10 }, () =>
      caller.call<Array<{ id: number }>>("catalog.listConcerts").then((list) => ({ list, ms: Date.now() - started })),
    );
    await waitUntil(() => stuck > 0, "a read to reach the doomed node", 5_000);
    await dieAbruptly(doomed);
    const answers = await Promise.all(calls);

    expect(stuck).toBeGreaterThan(0);
    for (const answer of answers) {
      expect(answer.list.map((c) => c.id)).toContain(concertId);
      // Rejected at the drop or at the read timeout (3 s), then answered by the live node: far from 10 s.
      expect(answer.ms).toBeLessThan(CALL_TIMEOUT_MS.read + 2_500);
    }
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(getConfig().requestTimeoutMs);
  });

  it("skips a sick endpoint (circuit breaker) but never trips on domain answers", async () => {
    let sickReads = 0;
    let sickLookups = 0;
    const sick = withAround(
      withAround(CatalogService, "listConcerts", () => async () => {
        sickReads++;
        throw new Error("this node's database pool is broken");
      }),
      "getConcert",
      (original) => async (ctx) => {
        sickLookups++;
        return original(ctx);
      },
    );
    const node = await startNode([sick], { nodeID: "fo-sick" });
    await waitUntil(() => endpointCount(caller, "catalog.listConcerts") === 2, "fo-sick to be routed", 15_000);
    try {
      const outcomes: boolean[] = [];
      for (let i = 0; i < 40; i++) outcomes.push(await caller.call("catalog.listConcerts").then(() => true, () => false));
      // Failures while the breaker counts (≥ 10 calls, half failing), then it opens: the rest go to the live node.
      expect(outcomes.slice(-15)).toEqual(Array(15).fill(true));
      expect(sickReads).toBeGreaterThanOrEqual(5);
      expect(sickReads).toBeLessThanOrEqual(12);

      // 404 CONCERT_NOT_FOUND from both nodes, 40 times: domain answers, so the sick node keeps getting its share.
      for (let i = 0; i < 40; i++) {
        await expect(caller.call("catalog.getConcert", { concertId: 987_654 })).rejects.toMatchObject({ type: "CONCERT_NOT_FOUND" });
      }
      expect(sickLookups).toBeGreaterThanOrEqual(15);
    } finally {
      await node.stop();
    }
  });

  interface PayMeta {
    user: { id: string };
    queueToken: string;
    idempotencyKey: string;
    $statusCode?: number;
  }

  async function assertPaidOnce(userId: string, reservationId: number, paymentId: number, amount: number, charged: number) {
    const db = await moneySnapshot(em(), userId);
    expect(db.payments).toEqual([expect.objectContaining({ id: paymentId, reservationId, amount })]);
    expect(db.ledger.filter((e) => e.type === "USE")).toEqual([expect.objectContaining({ amount, paymentId })]);
    expect(db.outbox).toHaveLength(1);
    expect(db.balance).toBe(charged - amount);
    expect(db.balance).toBe(ledgerBalance(db.ledger));
    expect(isConsistentChain(db.ledger)).toBe(true);
  }

  it("pays once when the node commits a payment and dies before answering: the retry replays it", async () => {
    const userId = "fo_pay_dead";
    await caller.call("points.charge", { amount: 10_000 }, { meta: { user: { id: userId } } });
    const concert = await createConcertWithSeats(em(), 2, 2000);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds);
    const queueToken = await activeQueueToken(caller, userId, concert.concertId);

    let committedOnDoomed = 0;
    const dieAfterCommit = withAround(PaymentsService, "create", (original) => async (ctx) => {
      const result = await original(ctx);
      committedOnDoomed++;
      await dieAbruptly(ctx.broker);
      return result;
    });
    await startDoomed("fo-doomed-3", [CatalogService, QueueService, PointsService, dieAfterCommit, ReservationsService]);

    // Sent to the doomed node; its retry is balanced again, onto the live one.
    const meta = (): PayMeta => ({ user: { id: userId }, queueToken, idempotencyKey: "fo-pay-dead-key" });
    const started = Date.now();
    const first = meta();
    const payment = await caller.call<{ id: number; reservationId: number; amount: number }, { reservationId: number }>(
      "payments.create",
      { reservationId: reservation.reservationId },
      { meta: first, nodeID: "fo-doomed-3" },
    ).catch((err: Error) => err);
    const ms = Date.now() - started;

    expect(committedOnDoomed).toBe(1);
    process.stderr.write(`payment committed on a node that died: answered after ${ms} ms: ${JSON.stringify(payment)}\n`);
    // The pending call was rejected when the node was dropped (≤ 5 s), well before the 6 s write timeout.
    expect(ms).toBeLessThan(CALL_TIMEOUT_MS.write);
    expect(payment).toMatchObject({ reservationId: reservation.reservationId, amount: 4000 });
    const paymentId = (payment as { id: number }).id;
    // A client that retries on its own gets the same payment again.
    const again = await caller.call<{ id: number }, { reservationId: number }>("payments.create", { reservationId: reservation.reservationId }, { meta: meta() });
    expect(again.id).toBe(paymentId);
    await assertPaidOnce(userId, reservation.reservationId, paymentId, 4000, 10_000);
  });

  it("pays once when a slow node commits after the caller timed out: the retry on the other node replays it", async () => {
    const userId = "fo_pay_slow";
    await caller.call("points.charge", { amount: 5_000 }, { meta: { user: { id: userId } } });
    const concert = await createConcertWithSeats(em(), 1, 3000);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds);
    const queueToken = await activeQueueToken(caller, userId, concert.concertId);

    let slowCommits = 0;
    const slowAnswer = withAround(PaymentsService, "create", (original) => async (ctx) => {
      const result = await original(ctx);
      slowCommits++;
      await new Promise((resolve) => setTimeout(resolve, CALL_TIMEOUT_MS.write + 1_500));
      return result;
    });
    const slow = await startDoomed("fo-slow-4", [CatalogService, QueueService, PointsService, slowAnswer, ReservationsService]);

    const started = Date.now();
    const payment = await caller.call<{ id: number; amount: number }, { reservationId: number }>(
      "payments.create",
      { reservationId: reservation.reservationId },
      { meta: { user: { id: userId }, queueToken, idempotencyKey: "fo-pay-slow-key" }, nodeID: "fo-slow-4" },
    );
    const ms = Date.now() - started;
    expect(slowCommits).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(CALL_TIMEOUT_MS.write - 100);
    expect(ms).toBeLessThan(CALL_TIMEOUT_MS.write + 1_500);
    await assertPaidOnce(userId, reservation.reservationId, payment.id, 3000, 5_000);
    await dieAbruptly(slow);
  });

  it("holds once when the node commits a hold and dies before answering: never two live holds of a seat", async () => {
    const userId = "fo_hold_dead";
    const concert = await createConcertWithSeats(em(), 4, 1000);
    const queueToken = await activeQueueToken(caller, userId, concert.concertId);
    let committedOnDoomed = 0;
    const dieAfterCommit = withAround(ReservationsService, "create", (original) => async (ctx) => {
      const result = await original(ctx);
      committedOnDoomed++;
      await dieAbruptly(ctx.broker);
      return result;
    });
    await startDoomed("fo-doomed-5", [CatalogService, QueueService, PointsService, PaymentsService, dieAfterCommit]);

    const seatIds = concert.seatIds.slice(0, 2);
    const started = Date.now();
    const outcome = await caller
      .call("reservations.create", { scheduleId: concert.scheduleId, seatIds }, { meta: { user: { id: userId }, queueToken }, nodeID: "fo-doomed-5" })
      .then(
        () => ({ code: 201, type: undefined as string | undefined }),
        (err: { code?: number; type?: string }) => ({ code: err.code ?? 500, type: err.type }),
      );
    const ms = Date.now() - started;
    expect(committedOnDoomed).toBe(1);
    expect(ms).toBeLessThan(CALL_TIMEOUT_MS.write);
    // The retry on the live node finds the seats held (by this user's committed hold): 409, not a second hold.
    expect(outcome).toEqual({ code: 409, type: "SEAT_UNAVAILABLE" });
    const live = await em().execute<Array<{ seat_id: number; n: number }>>(
      `select rs.seat_id, count(*)::int as n from reservation_seat rs join reservation r on r.id = rs.reservation_id
        where r.schedule_id = ? and rs.live group by rs.seat_id order by rs.seat_id`,
      [concert.scheduleId],
    );
    expect(live).toEqual(seatIds.map((seat_id) => ({ seat_id, n: 1 })));
  });

  describe("through the gateway: a charge is re-sent only when it carries an Idempotency-Key", () => {
    let gateway: ServiceBroker;
    let base: string;

    beforeAll(async () => {
      gateway = await startNode([ApiService, AuthService], { nodeID: "fo-gateway" });
      base = apiUrl(gateway);
      await waitForApiAliases(gateway, ["points.charge", "auth.devToken"]);
    });
    afterAll(() => stopNodes(gateway));

    /** Charges 100 until one request lands on a node that commits it and dies; returns every answer. */
    async function chargeUntilOneDies(nodeID: string, userId: string, key: (i: number) => string | undefined) {
        let committedOnDoomed = 0;
      const dieAfterCommit = withAround(PointsService, "charge", (original) => async (ctx) => {
        const result = await original(ctx);
        committedOnDoomed++;
        await dieAbruptly(ctx.broker);
        return result;
      });
      const doomed = await startNode([CatalogService, QueueService, dieAfterCommit, PaymentsService, ReservationsService], { nodeID });
      dying.push(doomed);
      await waitUntil(() => endpointCount(gateway, "points.charge") === 2, `${nodeID} to be routed`, 15_000);
      const token = await devToken(base, userId);
      const answers: Array<{ status: number; type?: string; ms: number; hitDoomed: boolean }> = [];
      for (let i = 0; committedOnDoomed === 0 && i < 6; i++) {
        const idempotencyKey = key(i);
        const started = Date.now();
        const response = await request("POST", `${base}/points/charge`, {
          token,
          json: { amount: 100 },
          headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
        });
        answers.push({ status: response.status, type: response.body?.type, ms: Date.now() - started, hitDoomed: committedOnDoomed > 0 });
      }
      expect(committedOnDoomed).toBe(1);
      return answers;
    }

    const chargeRows = async (userId: string) => (await moneySnapshot(em(), userId)).ledger.filter((e) => e.type === "CHARGE");

    it("without a key: the caller gets 503 at the drop (not after a timeout), and the charge is not made twice", async () => {
      const answers = await chargeUntilOneDies("fo-doomed-charge-1", "fo_charge_nokey", () => undefined);
      const last = answers[answers.length - 1];
      expect(last.hitDoomed).toBe(true);
      expect(last.status).toBe(503);
      expect(last.ms).toBeLessThan(CALL_TIMEOUT_MS.write);
      // The dead node's commit is the only row the failed request made: it was not re-sent.
      expect(await chargeRows("fo_charge_nokey")).toHaveLength(answers.length);
      expect(answers.slice(0, -1).every((a) => a.status === 200)).toBe(true);
    });

    it("with a key: the retry on the live node answers 200 from the committed charge, charged once", async () => {
      const answers = await chargeUntilOneDies("fo-doomed-charge-2", "fo_charge_key", (i) => `fo-charge-key-${i}`);
      const last = answers[answers.length - 1];
      expect(last.hitDoomed).toBe(true);
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(last.ms).toBeLessThan(CALL_TIMEOUT_MS.write);
      const rows = await chargeRows("fo_charge_key");
      expect(rows.map((r) => r.idempotencyKey)).toEqual(answers.map((_, i) => `fo-charge-key-${i}`));
      const db = await moneySnapshot(em(), "fo_charge_key");
      expect(db.balance).toBe(100 * answers.length);
    });
  });
});
