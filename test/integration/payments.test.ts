import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import PointsService from "../../services/points.service";
import PaymentsService from "../../services/payments.service";
import { getConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import type { PaymentCompletedEvent } from "../../modules/payments/payment-rules";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request, type JsonResponse } from "../support/http";
import { activeQueueToken } from "../support/queue";
import {
  createConcertWithSeats,
  insertReservation,
  moneySnapshot,
  reservationState,
  type ConcertFixture,
  type HeldReservation,
} from "../support/payments-fixtures";

/** Records every payment.completed event this namespace emits. */
const received: PaymentCompletedEvent[] = [];
const EventProbe: ServiceSchema = {
  name: "payment-probe",
  events: {
    "payment.completed"(ctx: Context<PaymentCompletedEvent>) {
      received.push(ctx.params);
    },
  },
};

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe("payments over HTTP (real PostgreSQL, Redis, NATS)", () => {
  let node: ServiceBroker;
  let base: string;
  const em = () => (node.getLocalService("payments") as unknown as OrmMethods).em();

  interface Buyer {
    userId: string;
    token: string;
    queueToken: string;
    concert: ConcertFixture;
    reservation: HeldReservation;
  }

  /** A user with `points` charged, a fresh concert, a reservation of `seats` (1000 each) and an ACTIVE token. */
  async function buyer(userId: string, points: number, options: { seats?: number; holdSeconds?: number } = {}): Promise<Buyer> {
    const token = await devToken(base, userId);
    if (points > 0) {
      const charged = await request("POST", `${base}/points/charge`, { token, json: { amount: points } });
      expect(charged.status).toBe(200);
    }
    const concert = await createConcertWithSeats(em(), 6, 1000);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds.slice(0, options.seats ?? 2), {
      holdSeconds: options.holdSeconds,
    });
    const queueToken = await activeQueueToken(node, userId, concert.concertId);
    return { userId, token, queueToken, concert, reservation };
  }

  function pay(who: { token: string; queueToken?: string }, reservationId: unknown, idempotencyKey?: string): Promise<JsonResponse> {
    return request("POST", `${base}/payments`, {
      token: who.token,
      queueToken: who.queueToken,
      idempotencyKey,
      json: { reservationId },
    });
  }

  async function everything(userId: string, reservationId: number) {
    return { money: await moneySnapshot(em(), userId), reservation: await reservationState(em(), reservationId) };
  }

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService, QueueService, PointsService, PaymentsService, EventProbe], {
      nodeID: "payments-http",
    });
    base = apiUrl(node);
    await waitForApiAliases(node, ["payments.create", "payments.get", "points.charge", "queue.enter", "auth.devToken"]);
  });
  afterAll(() => stopNodes(node));

  it("pays a HELD reservation in one transaction: USE entry, CONFIRMED, seats SOLD, payment and outbox rows, event", async () => {
    const alice = await buyer("pay_alice", 5000);
    const response = await pay(alice, alice.reservation.reservationId, "pay-alice-0001");
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.any(Number),
      reservationId: alice.reservation.reservationId,
      amount: 2000,
      status: "COMPLETED",
      paidAt: expect.any(String),
    });
    expect(new Date(response.body.paidAt).toISOString()).toBe(response.body.paidAt);

    const db = await everything("pay_alice", alice.reservation.reservationId);
    expect(db.reservation).toEqual({ status: "CONFIRMED", seats: ["SOLD", "SOLD"] });
    const [live] = await em().execute("select bool_and(live) as live from reservation_seat where reservation_id = ?", [
      alice.reservation.reservationId,
    ]);
    expect(live.live).toBe(true);
    expect(db.money.balance).toBe(3000);
    expect(db.money.ledger.map((e) => [e.type, e.amount, e.balanceAfter, e.paymentId])).toEqual([
      ["CHARGE", 5000, 5000, null],
      ["USE", 2000, 3000, response.body.id],
    ]);
    expect(db.money.payments).toEqual([
      { id: response.body.id, reservationId: alice.reservation.reservationId, amount: 2000, idempotencyKey: "pay-alice-0001" },
    ]);

    expect(db.money.outbox).toHaveLength(1);
    const [outbox] = db.money.outbox;
    expect(outbox.topic).toBe(getConfig().kafkaTopicPaymentCompleted);
    expect(outbox.messageKey).toBe(String(alice.reservation.reservationId));
    expect(outbox.eventId).toBe(outbox.payload.eventId);
    expect(outbox.payload).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      paymentId: response.body.id,
      reservationId: alice.reservation.reservationId,
      userId: "pay_alice",
      concertId: alice.concert.concertId,
      scheduleId: alice.concert.scheduleId,
      seatIds: alice.reservation.seatIds,
      amount: 2000,
      paidAt: response.body.paidAt,
    });

    // The internal event is the outbox message, emitted after the commit.
    const event = await eventually(() => received.find((e) => e.paymentId === response.body.id), "payment.completed received");
    expect(event).toEqual(outbox.payload);

    // The queue service expires the paid user's token for that concert.
    await eventually(async () => {
      const status = await node.call<{ status: string }, Record<string, never>>("queue.status", {}, {
        meta: { user: { id: "pay_alice" }, queueToken: alice.queueToken },
      });
      return status.status === "ACTIVE" ? undefined : status.status;
    }, "queue token no longer ACTIVE");
  });

  it("answers a retry with the same Idempotency-Key with 200 and the same payment, charging once (also after the token expired)", async () => {
    const bob = await buyer("pay_bob", 5000);
    const key = "pay-bob-retry-01";
    const first = await pay(bob, bob.reservation.reservationId, key);
    expect(first.status).toBe(201);
    const after = await everything("pay_bob", bob.reservation.reservationId);
    await eventually(async () => {
      const status = await node.call<{ status: string }, Record<string, never>>("queue.status", {}, {
        meta: { user: { id: "pay_bob" }, queueToken: bob.queueToken },
      });
      return status.status === "ACTIVE" ? undefined : status.status;
    }, "the payment expired the queue token");

    expect(first.headers.get("location")).toBe(`/api/payments/${first.body.id}`);
    const read = await request("GET", `${base}/payments/${first.body.id}`, { token: bob.token });
    expect(read).toMatchObject({ status: 200, body: first.body });
    const stranger = await request("GET", `${base}/payments/${first.body.id}`, { token: await devToken(base, "pay_stranger") });
    expect(stranger.status).toBe(404);
    expect(stranger.body).toMatchObject({ type: "PAYMENT_NOT_FOUND" });
    expect((await request("GET", `${base}/payments/abc`, { token: bob.token })).status).toBe(422);

    for (let i = 0; i < 3; i++) {
      const again = await pay(bob, bob.reservation.reservationId, key);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
    }
    expect(await everything("pay_bob", bob.reservation.reservationId)).toEqual(after);
    expect(received.filter((e) => e.reservationId === bob.reservation.reservationId)).toHaveLength(1);
  });

  it("refuses another key for an already paid reservation with 409 RESERVATION_NOT_HELD", async () => {
    const carol = await buyer("pay_carol", 5000);
    expect((await pay(carol, carol.reservation.reservationId, "pay-carol-first")).status).toBe(201);
    // Back in the queue (the payment expired the token) to reach the payment check itself.
    const queueToken = await eventually(async () => {
      const token = await activeQueueToken(node, "pay_carol", carol.concert.concertId);
      return token === carol.queueToken ? undefined : token;
    }, "a new queue token");
    const before = await everything("pay_carol", carol.reservation.reservationId);
    const second = await pay({ token: carol.token, queueToken }, carol.reservation.reservationId, "pay-carol-second");
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: 409, type: "RESERVATION_NOT_HELD" });
    expect(await everything("pay_carol", carol.reservation.reservationId)).toEqual(before);
  });

  it("refuses a key that already paid another reservation with 409 IDEMPOTENCY_KEY_REUSED", async () => {
    const dave = await buyer("pay_dave", 10_000);
    expect((await pay(dave, dave.reservation.reservationId, "pay-dave-key")).status).toBe(201);
    const other = await createConcertWithSeats(em(), 2, 1000);
    const second = await insertReservation(em(), other, "pay_dave", other.seatIds);
    const queueToken = await activeQueueToken(node, "pay_dave", other.concertId);
    const before = await everything("pay_dave", second.reservationId);
    const response = await pay({ token: dave.token, queueToken }, second.reservationId, "pay-dave-key");
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ type: "IDEMPOTENCY_KEY_REUSED" });
    expect(await everything("pay_dave", second.reservationId)).toEqual(before);
    expect(before.reservation.status).toBe("HELD");
  });

  it("answers 404 RESERVATION_NOT_FOUND for someone else's reservation and for a missing one, charging nobody", async () => {
    const erin = await buyer("pay_erin", 5000);
    const frank = await buyer("pay_frank", 5000);
    const erinBefore = await everything("pay_erin", erin.reservation.reservationId);
    const frankBefore = await everything("pay_frank", frank.reservation.reservationId);

    // Frank, with an ACTIVE token of his own and of Erin's concert, tries to pay Erin's hold.
    const frankOnErinsConcert = await activeQueueToken(node, "pay_frank", erin.concert.concertId);
    for (const queueToken of [frank.queueToken, frankOnErinsConcert]) {
      const response = await pay({ token: frank.token, queueToken }, erin.reservation.reservationId, "frank-pays-erin");
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 404, type: "RESERVATION_NOT_FOUND" });
    }
    const missing = await pay(frank, 2_000_000_000, "frank-pays-nothing");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: "RESERVATION_NOT_FOUND" });

    expect(await everything("pay_erin", erin.reservation.reservationId)).toEqual(erinBefore);
    expect(await everything("pay_frank", frank.reservation.reservationId)).toEqual(frankBefore);
  });

  it("refuses a payment after expiresAt with 410 even before the sweeper ran, charging nothing", async () => {
    const gina = await buyer("pay_gina", 5000, { holdSeconds: -2 });
    const before = await everything("pay_gina", gina.reservation.reservationId);
    expect(before.reservation).toEqual({ status: "HELD", seats: ["HELD", "HELD"] });
    const response = await pay(gina, gina.reservation.reservationId, "gina-late-payment");
    expect(response.status).toBe(410);
    expect(response.body).toMatchObject({ code: 410, type: "RESERVATION_EXPIRED" });
    const after = await everything("pay_gina", gina.reservation.reservationId);
    expect(after).toEqual(before);
    expect(after.money.ledger.filter((e) => e.type === "USE")).toHaveLength(0);
    expect(after.money.outbox).toHaveLength(0);
  });

  it.each([
    ["EXPIRED", 410, "RESERVATION_EXPIRED"],
    ["CANCELLED", 409, "RESERVATION_NOT_HELD"],
  ] as const)("refuses a %s reservation with %i %s", async (status, code, type) => {
    const userId = `pay_${status.toLowerCase()}`;
    const holder = await buyer(userId, 5000);
    const finished = await insertReservation(em(), holder.concert, userId, holder.concert.seatIds.slice(4, 6), { status });
    const before = await everything(userId, finished.reservationId);
    const response = await pay(holder, finished.reservationId, `pay-${status}-key`);
    expect(response.status).toBe(code);
    expect(response.body).toMatchObject({ code, type });
    expect(await everything(userId, finished.reservationId)).toEqual(before);
  });

  it("answers 402 INSUFFICIENT_POINTS with balance and amount, also without a wallet, changing nothing", async () => {
    const hana = await buyer("pay_hana", 1500);
    const before = await everything("pay_hana", hana.reservation.reservationId);
    const response = await pay(hana, hana.reservation.reservationId, "hana-short-of-points");
    expect(response.status).toBe(402);
    expect(response.body).toMatchObject({ code: 402, type: "INSUFFICIENT_POINTS", data: { balance: 1500, amount: 2000 } });
    expect(await everything("pay_hana", hana.reservation.reservationId)).toEqual(before);

    const ivan = await buyer("pay_ivan", 0);
    const broke = await pay(ivan, ivan.reservation.reservationId, "ivan-has-no-wallet");
    expect(broke.status).toBe(402);
    expect(broke.body).toMatchObject({ type: "INSUFFICIENT_POINTS", data: { balance: 0, amount: 2000 } });
    expect((await moneySnapshot(em(), "pay_ivan")).balance).toBeNull();

    // Topped up, the same hold pays (the refused attempt left it HELD), with the same key.
    await request("POST", `${base}/points/charge`, { token: hana.token, json: { amount: 500 } });
    const retried = await pay(hana, hana.reservation.reservationId, "hana-short-of-points");
    expect(retried.status).toBe(201);
    const db = await moneySnapshot(em(), "pay_hana");
    expect(db.balance).toBe(0);
    expect(ledgerBalance(db.ledger)).toBe(0);
    expect(isConsistentChain(db.ledger)).toBe(true);
  });

  it("needs a bearer token (401) and an ACTIVE queue token (403)", async () => {
    const jack = await buyer("pay_jack", 5000);
    const before = await everything("pay_jack", jack.reservation.reservationId);
    const anonymous = await pay({ token: "", queueToken: jack.queueToken }, jack.reservation.reservationId, "jack-anonymous");
    expect(anonymous.status).toBe(401);
    const noQueueToken = await pay({ token: jack.token }, jack.reservation.reservationId, "jack-no-queue-token");
    expect(noQueueToken.status).toBe(403);
    expect(noQueueToken.body).toMatchObject({ type: "QUEUE_NOT_ACTIVE" });
    const waiting = await request("POST", `${base}/concerts/${jack.concert.concertId}/queue`, { token: jack.token });
    expect(waiting.body.token).toBe(jack.queueToken);
    await node.call("queue.leave", {}, { meta: { user: { id: "pay_jack" }, queueToken: jack.queueToken } });
    const leftQueue = await pay(jack, jack.reservation.reservationId, "jack-left-the-queue");
    expect(leftQueue.status).toBe(403);
    expect(await everything("pay_jack", jack.reservation.reservationId)).toEqual(before);
  });

  describe("bad input changes nothing", () => {
    let kim: Buyer;
    let before: Awaited<ReturnType<typeof everything>>;

    beforeAll(async () => {
      kim = await buyer("pay_kim", 5000);
      before = await everything("pay_kim", kim.reservation.reservationId);
    });
    afterEach(async () => {
      expect(await everything("pay_kim", kim.reservation.reservationId)).toEqual(before);
    });

    it.each([
      ["missing", undefined],
      ["null", null],
      ["a numeric string", "RID"],
      ["zero", 0],
      ["negative", -1],
      ["fractional", 1.5],
      ["beyond the int range", 2 ** 31],
      ["an array", [1]],
    ])("refuses a reservationId that is %s with 422", async (_label, value) => {
      const reservationId = value === "RID" ? String(kim.reservation.reservationId) : value;
      const response = await pay(kim, reservationId, "kim-bad-input-key");
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
      expect(response.body.data[0]).toMatchObject({ field: "reservationId" });
    });

    it.each([
      ["missing", undefined],
      ["empty", ""],
      ["too short", "short12"],
      ["too long", "k".repeat(129)],
      ["with spaces", "kim key with spaces"],
      ["with other symbols", "kim.key/with+symbols"],
    ])("refuses an Idempotency-Key that is %s with 422", async (_label, key) => {
      const response = await request("POST", `${base}/payments`, {
        token: kim.token,
        queueToken: kim.queueToken,
        headers: key === undefined ? {} : { "idempotency-key": key },
        json: { reservationId: kim.reservation.reservationId },
      });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
      expect(response.body.data[0]).toMatchObject({ field: "Idempotency-Key" });
    });
  });
});
