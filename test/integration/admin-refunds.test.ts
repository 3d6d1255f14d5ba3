import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import PointsService from "../../services/points.service";
import PaymentsService from "../../services/payments.service";
import ReservationsService from "../../services/reservations.service";
import { getConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import type { PaymentRefundedEvent, PaymentView } from "../../modules/payments/payment-rules";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request, type JsonResponse } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { createConcertWithSeats, insertReservation, moneySnapshot, type ConcertFixture } from "../support/payments-fixtures";
import { bookingProblems, bookingState } from "../support/reservations";

const refunds: PaymentRefundedEvent[] = [];
const RefundProbe: ServiceSchema = {
  name: "refund-probe",
  events: {
    "payment.refunded"(ctx: Context<PaymentRefundedEvent>) {
      refunds.push(ctx.params);
    },
  },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("operator refunds (real PostgreSQL, Redis, NATS)", () => {
  let node: ServiceBroker;
  let base: string;
  let admin: string;
  const em = () => (node.getLocalService("payments") as unknown as OrmMethods).em();

  interface Paid {
    userId: string;
    concert: ConcertFixture;
    reservationId: number;
    seatIds: number[];
    payment: PaymentView;
  }

  /** A user who charged `points` and paid a reservation of the first `seats` seats (1000 each) through payments.create. */
  async function paidReservation(userId: string, points: number, seats = 2, concert?: ConcertFixture): Promise<Paid> {
    await node.call("points.charge", { amount: points }, { meta: { user: { id: userId } } });
    const fixture = concert ?? (await createConcertWithSeats(em(), 6, 1000));
    const held = await insertReservation(em(), fixture, userId, fixture.seatIds.slice(0, seats));
    const queueToken = await activeQueueToken(node, userId, fixture.concertId);
    const payment = await node.call<PaymentView, { reservationId: number }>(
      "payments.create",
      { reservationId: held.reservationId },
      { meta: { user: { id: userId }, queueToken, idempotencyKey: `pay-${userId}-${held.reservationId}` } },
    );
    return { userId, concert: fixture, reservationId: held.reservationId, seatIds: held.seatIds, payment };
  }

  function refund(reservationId: unknown, options: { token?: string; idempotencyKey?: string } = {}): Promise<JsonResponse> {
    return request("POST", `${base}/admin/reservations/${reservationId}/refund`, {
      token: "token" in options ? options.token : admin,
      idempotencyKey: options.idempotencyKey,
    });
  }

  /** Everything a refund may touch, to prove that a refused or repeated one wrote nothing. */
  async function everything(userId: string, reservationId: number) {
    const [reservation] = await em().execute("select status, updated_at from reservation where id = ?", [reservationId]);
    const seats = await em().execute(
      "select s.id, s.status, rs.live from reservation_seat rs join seat s on s.id = rs.seat_id where rs.reservation_id = ? order by s.id",
      [reservationId],
    );
    const payments = await em().execute("select id, status, refunded_at from payment where reservation_id = ?", [reservationId]);
    const outbox = await em().execute("select event_id, topic, payload from outbox_event where message_key = ? order by id", [
      String(reservationId),
    ]);
    return { money: await moneySnapshot(em(), userId), reservation, seats, payments, outbox };
  }

  async function assertWalletInvariant(userId: string) {
    const db = await moneySnapshot(em(), userId);
    expect(db.balance).toBe(ledgerBalance(db.ledger));
    expect(isConsistentChain(db.ledger)).toBe(true);
    const [violations] = await em().execute(
      `select count(*)::int as n from wallet w where balance < 0 or balance <>
         (select coalesce(sum(case when type = 'USE' then -amount else amount end), 0) from ledger_entry l where l.user_id = w.user_id)`,
    );
    expect(violations.n).toBe(0);
    return db;
  }

  const refundedOutbox = (reservationId: number) =>
    em().execute<Array<{ event_id: string; message_key: string; payload: any }>>(
      "select event_id, message_key, payload from outbox_event where topic = ? and message_key = ? order by id",
      [getConfig().kafkaTopicPaymentRefunded, String(reservationId)],
    );

  beforeAll(async () => {
    node = await startNode(
      [ApiService, AuthService, CatalogService, QueueService, PointsService, PaymentsService, ReservationsService, RefundProbe],
      { nodeID: "refunds" },
    );
    base = apiUrl(node);
    await waitForApiAliases(node, ["payments.refund", "auth.devToken"]);
    admin = await devToken(base, "refund_admin", ["admin"]);
  });
  afterAll(() => stopNodes(node));

  it("refunds in one transaction: REFUND entry, payment and reservation REFUNDED, seats AVAILABLE and holdable, one outbox row, one event", async () => {
    const alice = await paidReservation("refund_alice", 5000);
    expect((await moneySnapshot(em(), "refund_alice")).balance).toBe(3000);

    const response = await refund(alice.reservationId);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: alice.reservationId,
      status: "REFUNDED",
      concertId: alice.concert.concertId,
      scheduleId: alice.concert.scheduleId,
      seats: alice.seatIds.map((id, i) => ({ id, section: "A", row: "1", number: i + 1, price: 1000 })),
      amount: 2000,
      expiresAt: expect.any(String),
      refundedAt: expect.any(String),
    });

    const db = await assertWalletInvariant("refund_alice");
    expect(db.balance).toBe(5000);
    expect(db.ledger.map((e) => [e.type, e.amount, e.balanceAfter, e.paymentId])).toEqual([
      ["CHARGE", 5000, 5000, null],
      ["USE", 2000, 3000, alice.payment.id],
      ["REFUND", 2000, 5000, alice.payment.id],
    ]);
    const [payment] = await em().execute("select status, refunded_at from payment where id = ?", [alice.payment.id]);
    expect(payment.status).toBe("REFUNDED");
    expect(new Date(payment.refunded_at).toISOString()).toBe(response.body.refundedAt);
    const state = await everything("refund_alice", alice.reservationId);
    expect(state.reservation.status).toBe("REFUNDED");
    expect(state.seats).toEqual(alice.seatIds.map((id) => ({ id, status: "AVAILABLE", live: false })));
    expect(bookingProblems(await bookingState(em(), alice.concert.scheduleId))).toEqual([]);

    const outbox = await refundedOutbox(alice.reservationId);
    expect(outbox).toHaveLength(1);
    expect(outbox[0].event_id).toBe(outbox[0].payload.eventId);
    expect(outbox[0].payload).toEqual({
      eventId: expect.stringMatching(UUID),
      paymentId: alice.payment.id,
      reservationId: alice.reservationId,
      userId: "refund_alice",
      concertId: alice.concert.concertId,
      scheduleId: alice.concert.scheduleId,
      seatIds: alice.seatIds,
      amount: 2000,
      refundedAt: response.body.refundedAt,
    });
    // After the commit the internal event carries the same value.
    for (let i = 0; i < 100 && !refunds.some((e) => e.reservationId === alice.reservationId); i++) await sleep(50);
    expect(refunds.filter((e) => e.reservationId === alice.reservationId)).toEqual([outbox[0].payload]);

    // The seats can be held again, by someone else, through the ordinary hold path.
    const queueToken = await activeQueueToken(node, "refund_next", alice.concert.concertId);
    const hold = await node.call<{ status: string; seats: Array<{ id: number }> }, unknown>(
      "reservations.create",
      { scheduleId: alice.concert.scheduleId, seatIds: alice.seatIds },
      { meta: { user: { id: "refund_next" }, queueToken } },
    );
    expect(hold.status).toBe("HELD");
    expect(hold.seats.map((s) => s.id)).toEqual(alice.seatIds);
    expect(bookingProblems(await bookingState(em(), alice.concert.scheduleId))).toEqual([]);
  });

  it("answers a repeat with 200 and the same view, refunding nothing (with or without an Idempotency-Key)", async () => {
    const bob = await paidReservation("refund_bob", 4000, 3);
    const first = await refund(bob.reservationId, { idempotencyKey: "refund-bob-0001" });
    expect(first.status).toBe(200);
    const after = await everything("refund_bob", bob.reservationId);
    for (const idempotencyKey of ["refund-bob-0001", "refund-bob-0002", undefined]) {
      const again = await refund(bob.reservationId, { idempotencyKey });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    expect(await everything("refund_bob", bob.reservationId)).toEqual(after);
    expect(after.money.balance).toBe(4000);
    await sleep(200);
    expect(refunds.filter((e) => e.reservationId === bob.reservationId)).toHaveLength(1);
  });

  it("refuses what it must, writing nothing: 401, 403, 404, 409 RESERVATION_NOT_CONFIRMED, 422", async () => {
    const carol = await paidReservation("refund_carol", 3000, 1);
    const concert = await createConcertWithSeats(em(), 4, 1000);
    const held = await insertReservation(em(), concert, "refund_carol", [concert.seatIds[0]]);
    const cancelled = await insertReservation(em(), concert, "refund_carol", [concert.seatIds[1]], { status: "CANCELLED" });
    const expired = await insertReservation(em(), concert, "refund_carol", [concert.seatIds[2]], { status: "EXPIRED" });
    const before = await everything("refund_carol", carol.reservationId);
    const heldBefore = await everything("refund_carol", held.reservationId);

    const anonymous = await refund(carol.reservationId, { token: undefined });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ type: "UNAUTHORIZED" });
    const buyer = await refund(carol.reservationId, { token: await devToken(base, "refund_carol") });
    expect(buyer.status).toBe(403);
    expect(buyer.body).toMatchObject({ type: "FORBIDDEN" });

    const missing = await refund(2_000_000_000);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: "RESERVATION_NOT_FOUND", data: { reservationId: 2_000_000_000 } });

    for (const [reservation, status] of [
      [held, "HELD"],
      [cancelled, "CANCELLED"],
      [expired, "EXPIRED"],
    ] as const) {
      const refused = await refund(reservation.reservationId);
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ type: "RESERVATION_NOT_CONFIRMED", data: { reservationId: reservation.reservationId, status } });
    }

    for (const id of ["abc", "0", "-1", "1.5", "99999999999"]) {
      const bad = await refund(id);
      expect(bad.status).toBe(422);
      expect(bad.body).toMatchObject({ type: "VALIDATION_ERROR" });
    }
    const badKey = await refund(carol.reservationId, { idempotencyKey: "short" });
    expect(badKey.status).toBe(422);
    expect(badKey.body).toMatchObject({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "Idempotency-Key" })] });

    expect(await everything("refund_carol", carol.reservationId)).toEqual(before);
    expect(await everything("refund_carol", held.reservationId)).toEqual(heldBefore);
    expect(await refundedOutbox(carol.reservationId)).toEqual([]);
  });

  it("20 concurrent refunds of one reservation: one REFUND row, balance = ledger, seats freed once, one outbox row", async () => {
    const dave = await paidReservation("refund_dave", 10_000, 4);
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => refund(dave.reservationId, i % 2 ? { idempotencyKey: `dave-refund-${i}-x` } : {})));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    for (const response of responses) expect(response.body).toEqual(responses[0].body);

    const db = await assertWalletInvariant("refund_dave");
    expect(db.ledger.filter((e) => e.type === "REFUND")).toEqual([expect.objectContaining({ amount: 4000, paymentId: dave.payment.id })]);
    expect(db.balance).toBe(10_000);
    expect(await refundedOutbox(dave.reservationId)).toHaveLength(1);
    const state = await everything("refund_dave", dave.reservationId);
    expect(state.seats.map((s) => [s.status, s.live])).toEqual(Array(4).fill(["AVAILABLE", false]));
    expect(bookingProblems(await bookingState(em(), dave.concert.scheduleId))).toEqual([]);
    await sleep(300);
    expect(refunds.filter((e) => e.reservationId === dave.reservationId)).toHaveLength(1);
  });

  it("refunds racing holds and payments of the same seats: no seat in two live reservations, every wallet = its ledger", async () => {
    const erin = await paidReservation("refund_erin", 5000, 2);
    const seatIds = erin.seatIds;
    const rivals = Array.from({ length: 6 }, (_, i) => `refund_rival_${i}`);
    const tokens = new Map<string, string>();
    for (const user of rivals) {
      await node.call("points.charge", { amount: 5000 }, { meta: { user: { id: user } } });
      tokens.set(user, await activeQueueToken(node, user, erin.concert.concertId));
    }

    /** Each rival tries to hold one of the two seats (and pays at once) until it gets one or time is up. */
    const outcomes: string[] = [];
    const rival = async (user: string, i: number) => {
      const deadline = Date.now() + 4000;
      const meta = { user: { id: user }, queueToken: tokens.get(user) };
      while (Date.now() < deadline) {
        try {
          const hold = await node.call<{ id: number }, unknown>(
            "reservations.create",
            { scheduleId: erin.concert.scheduleId, seatIds: [seatIds[i % 2]] },
            { meta },
          );
          await node.call("payments.create", { reservationId: hold.id }, { meta: { ...meta, idempotencyKey: `rival-pay-${user}` } });
          outcomes.push(`paid:${seatIds[i % 2]}`);
          return;
        } catch (err) {
          const type = (err as { type?: string }).type;
          if (type !== "SEAT_UNAVAILABLE") throw err;
          await sleep(5);
        }
      }
    };
    const racingRefunds = (async () => {
      await sleep(50);
      return Promise.all(Array.from({ length: 10 }, () => refund(erin.reservationId)));
    })();
    const [refundResponses] = await Promise.all([racingRefunds, ...rivals.map(rival)]);
    expect(refundResponses.map((r) => r.status)).toEqual(Array(10).fill(200));

    // Each seat was bought again by exactly one rival once the refund freed it.
    expect(outcomes.sort()).toEqual(seatIds.map((id) => `paid:${id}`).sort());
    const state = await bookingState(em(), erin.concert.scheduleId);
    expect(bookingProblems(state)).toEqual([]);
    for (const id of seatIds) {
      expect(state.liveHolders.get(id)).toHaveLength(1);
      expect(state.seatStatus.get(id)).toBe("SOLD");
    }
    const erinDb = await assertWalletInvariant("refund_erin");
    expect(erinDb.ledger.filter((e) => e.type === "REFUND")).toHaveLength(1);
    for (const user of rivals) await assertWalletInvariant(user);
    expect(await refundedOutbox(erin.reservationId)).toHaveLength(1);
  });
});
