import type { ServiceBroker } from "moleculer";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import PointsService from "../../services/points.service";
import PaymentsService from "../../services/payments.service";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import type { PaymentView } from "../../modules/payments/payment-rules";
import { startNode, stopNodes } from "../support/nodes";
import { activeQueueToken } from "../support/queue";
import { createConcertWithSeats, insertReservation, moneySnapshot, reservationState } from "../support/payments-fixtures";

/**
 * Payments and charges racing each other on two broker nodes (same NATS, same PostgreSQL): the
 * invariants are checked in the database afterwards.
 */
describe("payments under concurrency (two nodes)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;
  const em = () => (nodeA.getLocalService("payments") as unknown as OrmMethods).em();

  interface CallMeta {
    user: { id: string };
    queueToken?: string;
    idempotencyKey?: string;
    $statusCode?: number;
  }

  /** Calls payments.create on node A or B (each prefers its local service); keeps the answer's status code in meta. */
  function pay(i: number, meta: CallMeta, reservationId: number) {
    const broker = i % 2 === 0 ? nodeA : nodeB;
    return broker.call<PaymentView, { reservationId: number }>("payments.create", { reservationId }, { meta });
  }

  function errorTypes(results: PromiseSettledResult<unknown>[]): string[] {
    return results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { type?: string }).type ?? String(r.reason)] : []));
  }

  async function assertWalletInvariant(userId: string) {
    const db = await moneySnapshot(em(), userId);
    expect(db.balance).not.toBeNull();
    expect(db.balance).toBeGreaterThanOrEqual(0);
    expect(db.balance).toBe(ledgerBalance(db.ledger));
    expect(isConsistentChain(db.ledger)).toBe(true);
    const [violations] = await em().execute(
      "select count(*)::int as n from wallet w where balance < 0 or balance <> (select coalesce(sum(case when type = 'USE' then -amount else amount end), 0) from ledger_entry l where l.user_id = w.user_id)",
    );
    expect(violations.n).toBe(0);
    return db;
  }

  beforeAll(async () => {
    nodeA = await startNode([CatalogService, QueueService, PointsService, PaymentsService], { nodeID: "pay-a" });
    nodeB = await startNode([QueueService, PointsService, PaymentsService], { nodeID: "pay-b" });
    await Promise.all([nodeA.waitForServices(["payments", "points", "queue"]), nodeB.waitForServices(["catalog", "payments", "points"])]);
  });
  afterAll(() => stopNodes(nodeA, nodeB));

  it("lets exactly one of 50 concurrent payments of one reservation with different keys succeed", async () => {
    const userId = "race_diff_keys";
    await nodeA.call("points.charge", { amount: 100_000 }, { meta: { user: { id: userId } } });
    const concert = await createConcertWithSeats(em(), 4, 1000);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds.slice(0, 3));
    const queueToken = await activeQueueToken(nodeA, userId, concert.concertId);

    const metas: CallMeta[] = Array.from({ length: 50 }, (_, i) => ({ user: { id: userId }, queueToken, idempotencyKey: `diff-key-${i}-xxxx` }));
    const results = await Promise.allSettled(metas.map((meta, i) => pay(i, meta, reservation.reservationId)));

    const succeeded = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ payment: r.value, meta: metas[i] }] : []));
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0].meta.$statusCode).toBe(201);
    // The losers found the reservation CONFIRMED, or (after the payment expired the token) no ACTIVE token.
    for (const type of errorTypes(results)) expect(["RESERVATION_NOT_HELD", "QUEUE_NOT_ACTIVE"]).toContain(type);

    const db = await assertWalletInvariant(userId);
    expect(db.payments).toEqual([
      { id: succeeded[0].payment.id, reservationId: reservation.reservationId, amount: 3000, idempotencyKey: succeeded[0].meta.idempotencyKey },
    ]);
    expect(db.ledger.filter((e) => e.type === "USE")).toEqual([expect.objectContaining({ amount: 3000, paymentId: succeeded[0].payment.id })]);
    expect(db.balance).toBe(97_000);
    expect(db.outbox).toHaveLength(1);
    expect(db.outbox[0].payload).toMatchObject({ paymentId: succeeded[0].payment.id, reservationId: reservation.reservationId });
    expect(await reservationState(em(), reservation.reservationId)).toEqual({ status: "CONFIRMED", seats: ["SOLD", "SOLD", "SOLD"] });
  });

  it("pays once when the same key arrives 30 times at once: one 201, the rest replay the same payment", async () => {
    const userId = "race_same_key";
    await nodeB.call("points.charge", { amount: 10_000 }, { meta: { user: { id: userId } } });
    const concert = await createConcertWithSeats(em(), 2, 2500);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds);
    const queueToken = await activeQueueToken(nodeB, userId, concert.concertId);
    const key = "same-key-raced-30x";

    const metas: CallMeta[] = Array.from({ length: 30 }, () => ({ user: { id: userId }, queueToken, idempotencyKey: key }));
    const results = await Promise.allSettled(metas.map((meta, i) => pay(i, meta, reservation.reservationId)));

    const answered = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ payment: r.value, status: metas[i].$statusCode }] : []));
    expect(answered.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answered.filter((a) => a.status !== 201).every((a) => a.status === 200)).toBe(true);
    expect(new Set(answered.map((a) => a.payment.id)).size).toBe(1);
    // A request that checked for a replay just before the payment committed, and the token just after
    // it expired, is refused by the guard; its retry is answered from the payment.
    for (const type of errorTypes(results)) expect(type).toBe("QUEUE_NOT_ACTIVE");
    const retry = await pay(1, { user: { id: userId }, queueToken, idempotencyKey: key }, reservation.reservationId);
    expect(retry.id).toBe(answered[0].payment.id);

    const db = await assertWalletInvariant(userId);
    expect(db.payments).toHaveLength(1);
    expect(db.ledger.filter((e) => e.type === "USE")).toHaveLength(1);
    expect(db.outbox).toHaveLength(1);
    expect(db.balance).toBe(5000);
  });

  it("pays once when one key is raced for two reservations: the loser of the unique key answers 409 IDEMPOTENCY_KEY_REUSED", async () => {
    const userId = "race_key_two_holds";
    await nodeA.call("points.charge", { amount: 10_000 }, { meta: { user: { id: userId } } });
    const holds = await Promise.all(
      [0, 1].map(async () => {
        const concert = await createConcertWithSeats(em(), 1, 1000);
        const reservation = await insertReservation(em(), concert, userId, concert.seatIds);
        return { reservationId: reservation.reservationId, queueToken: await activeQueueToken(nodeA, userId, concert.concertId) };
      }),
    );
    const key = "one-key-two-holds";
    const calls = Array.from({ length: 20 }, (_, i) => {
      const hold = holds[i % 2];
      const meta: CallMeta = { user: { id: userId }, queueToken: hold.queueToken, idempotencyKey: key };
      return { hold, meta, result: pay(Math.floor(i / 2), meta, hold.reservationId) };
    });
    const results = await Promise.allSettled(calls.map((c) => c.result));

    const answered = results.flatMap((r, i) => (r.status === "fulfilled" ? [{ payment: r.value, call: calls[i] }] : []));
    expect(answered.filter((a) => a.call.meta.$statusCode === 201)).toHaveLength(1);
    const winner = answered[0].payment;
    for (const a of answered) {
      expect(a.payment).toEqual(winner);
      expect(a.call.hold.reservationId).toBe(winner.reservationId);
    }
    results.forEach((r, i) => {
      if (r.status === "fulfilled") return;
      const type = (r.reason as { type?: string }).type;
      if (calls[i].hold.reservationId === winner.reservationId) expect(type).toBe("QUEUE_NOT_ACTIVE");
      else expect(type).toBe("IDEMPOTENCY_KEY_REUSED");
    });

    const db = await assertWalletInvariant(userId);
    expect(db.payments).toEqual([expect.objectContaining({ id: winner.id, reservationId: winner.reservationId })]);
    expect(db.outbox).toHaveLength(1);
    expect(db.balance).toBe(9000);
    const loser = holds.find((h) => h.reservationId !== winner.reservationId)!;
    expect(await reservationState(em(), loser.reservationId)).toEqual({ status: "HELD", seats: ["HELD"] });
  });

  it("keeps balance = ledger sum, never negative, under 100 concurrent charges and payments on one wallet", async () => {
    const userId = "race_wallet";
    const meta = () => ({ user: { id: userId } });
    await nodeA.call("points.charge", { amount: 10_000 }, { meta: meta() });

    // 40 holds of 1000 points, each in its own concert (a payment expires that concert's token).
    const holds = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const concert = await createConcertWithSeats(em(), 1, 1000);
        const reservation = await insertReservation(em(), concert, userId, concert.seatIds);
        return { concert, reservation };
      }),
    );
    const tokens = await Promise.all(holds.map((h) => activeQueueToken(nodeA, userId, h.concert.concertId)));

    // 10,000 + 60 × 400 = 34,000 points for 40,000 points of holds: at least 10 and at most 34 payments fit.
    const operations = Array.from({ length: 100 }, (_, i) => {
      if (i % 5 < 2) {
        const k = Math.floor(i / 5) * 2 + (i % 5); // 0..39
        const callMeta: CallMeta = { ...meta(), queueToken: tokens[k], idempotencyKey: `wallet-race-pay-${k}` };
        return pay(i, callMeta, holds[k].reservation.reservationId).then(() => "PAID");
      }
      const broker = i % 2 === 0 ? nodeA : nodeB;
      return broker.call("points.charge", { amount: 400 }, { meta: meta() }).then(() => "CHARGED");
    });
    const results = await Promise.allSettled(operations);

    const outcomes = results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as { type?: string }).type));
    const paid = outcomes.filter((o) => o === "PAID").length;
    expect(outcomes.filter((o) => o === "CHARGED")).toHaveLength(60);
    expect(outcomes.filter((o) => o !== "PAID" && o !== "CHARGED").every((o) => o === "INSUFFICIENT_POINTS")).toBe(true);
    expect(paid).toBeGreaterThanOrEqual(10);
    expect(paid).toBeLessThanOrEqual(34);

    const db = await assertWalletInvariant(userId);
    expect(db.ledger.filter((e) => e.type === "CHARGE")).toHaveLength(61);
    expect(db.ledger.filter((e) => e.type === "USE")).toHaveLength(paid);
    expect(db.payments).toHaveLength(paid);
    expect(db.outbox).toHaveLength(paid);
    expect(db.balance).toBe(34_000 - paid * 1000);
    const states = await Promise.all(holds.map((h) => reservationState(em(), h.reservation.reservationId)));
    expect(states.filter((s) => s.status === "CONFIRMED")).toHaveLength(paid);
    expect(states.filter((s) => s.status === "HELD")).toHaveLength(40 - paid);
    // Every USE belongs to a payment of this user, and every payment to a USE.
    expect(new Set(db.ledger.filter((e) => e.type === "USE").map((e) => e.paymentId))).toEqual(new Set(db.payments.map((p) => p.id)));
  });
});
