import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import type { RedisMethods } from "../../mixins/redis.mixin";
import { payReservation } from "../../modules/payments/pay-reservation";
import { rankingKeys } from "../../modules/ranking/concert-ranking";
import CatalogService from "../../services/catalog.service";
import KafkaBridgeService from "../../services/kafka-bridge.service";
import PaymentsService from "../../services/payments.service";
import PointsService from "../../services/points.service";
import QueueService from "../../services/queue.service";
import RankingService from "../../services/ranking.service";
import { deleteTestTopics, waitFor } from "../support/kafka-payments";
import { startNode, stopNodes } from "../support/nodes";
import { createConcertWithSeats, insertReservation, type ConcertFixture } from "../support/payments-fixtures";
import { activeQueueToken } from "../support/queue";

// The relay picks up a row half a second after its commit when no fast-path event published it.
Object.assign(process.env, { OUTBOX_RELAY_INTERVAL_MS: "200", OUTBOX_RELAY_DELAY_MS: "500" });
resetConfig();

const SLOW = 60_000;

describe("derived state from a durable source (outbox → Kafka → consumer groups)", () => {
  let core: ServiceBroker; // catalog, queue, points, payments, kafka bridge
  let rankingNode: ServiceBroker | undefined;
  let fixture: ConcertFixture;
  let seatCursor = 0;

  const em = () => (core.getLocalService("catalog") as unknown as OrmMethods).em();
  const redis = () => (core.getLocalService("queue") as unknown as RedisMethods).redis;
  const rankingOf = async (concertId: number) => Number((await redis().zscore(rankingKeys(getConfig().redisPrefix).concerts, concertId)) ?? 0);
  const queueStatus = (userId: string, token: string) =>
    core.call<{ status: string }, object>("queue.status", {}, { meta: { user: { id: userId }, queueToken: token } }).then((s) => s.status);
  const seatStatuses = async (viewer: string, viewerToken: string, seatIds: number[]) => {
    const seats = await core.call<Array<{ id: number; status: string }>, object>(
      "catalog.seatMap",
      { scheduleId: fixture.scheduleId },
      { meta: { user: { id: viewer }, queueToken: viewerToken } },
    );
    return seats.filter((seat) => seatIds.includes(seat.id)).map((seat) => seat.status);
  };

  /** A buyer with an ACTIVE token, points, and a HELD reservation of two fresh seats. */
  async function heldBuyer(userId: string) {
    const token = await activeQueueToken(core, userId, fixture.concertId);
    await core.call("points.charge", { amount: 1_000_000 }, { meta: { user: { id: userId } } });
    const seatIds = fixture.seatIds.slice(seatCursor, seatCursor + 2);
    seatCursor += 2;
    const held = await insertReservation(em(), fixture, userId, seatIds);
    return { token, held, seatIds };
  }

  /** Commits the payment the way the payments service does, then "dies": no event is emitted. */
  const payWithoutEmit = (userId: string, reservationId: number) =>
    payReservation(em(), { userId, reservationId, idempotencyKey: `key-${userId}-${reservationId}`, topic: getConfig().kafkaTopicPaymentCompleted });

  beforeAll(async () => {
    core = await startNode([CatalogService, QueueService, PointsService, PaymentsService, KafkaBridgeService], { nodeID: "fanout-core" });
    rankingNode = await startNode([RankingService], { nodeID: "fanout-ranking-1" });
    fixture = await createConcertWithSeats(em(), 20, 1000);
  }, SLOW);

  afterAll(async () => {
    await stopNodes(core, rankingNode);
    await deleteTestTopics();
  }, SLOW);

  it(
    "a payment whose node died between commit and emit still counts in the ranking, expires the token and refreshes the seat map",
    async () => {
      const viewer = await activeQueueToken(core, "fanout-viewer", fixture.concertId);
      const buyer = await heldBuyer("fanout-buyer-1");
      expect(await seatStatuses("fanout-viewer", viewer, buyer.seatIds)).toEqual(["HELD", "HELD"]); // now cached
      const before = await rankingOf(fixture.concertId);

      const { event } = await payWithoutEmit("fanout-buyer-1", buyer.held.reservationId);
      expect(event).not.toBeNull();

      await waitFor(async () => (await rankingOf(fixture.concertId)) === before + 2, SLOW, "ranking +2 seats");
      await waitFor(async () => (await queueStatus("fanout-buyer-1", buyer.token)) === "EXPIRED", SLOW, "the payer's token EXPIRED");
      await waitFor(async () => (await seatStatuses("fanout-viewer", viewer, buyer.seatIds)).every((s) => s === "SOLD"), SLOW, "the seat map shows SOLD");
      // Counted once, although the relay and the consumers may see the message more than once.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await rankingOf(fixture.concertId)).toBe(before + 2);
    },
    SLOW,
  );

  it(
    "a ranking node that was down while payments happened catches up when one comes back",
    async () => {
      await stopNodes(rankingNode);
      rankingNode = undefined;
      const before = await rankingOf(fixture.concertId);
      const buyers = [await heldBuyer("fanout-buyer-2"), await heldBuyer("fanout-buyer-3")];
      for (const [i, buyer] of buyers.entries()) {
        const { event } = await payWithoutEmit(`fanout-buyer-${i + 2}`, buyer.held.reservationId);
        // The in-process event reaches nobody: no ranking node is up.
        await core.emit("payment.completed", event);
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await rankingOf(fixture.concertId)).toBe(before);

      rankingNode = await startNode([RankingService], { nodeID: "fanout-ranking-2" });
      await waitFor(async () => (await rankingOf(fixture.concertId)) === before + 4, SLOW, "ranking caught up (+4 seats)");
    },
    SLOW,
  );

  it(
    "rebuilds the ranking from PostgreSQL after Redis lost it",
    async () => {
      const expected = await rankingOf(fixture.concertId);
      expect(expected).toBeGreaterThan(0);
      const keys = await redis().keys(`${getConfig().redisPrefix}ranking:*`);
      await redis().del(...keys); // what a Redis restart (no persistence) leaves of the ranking
      expect(await rankingOf(fixture.concertId)).toBe(0);
      await waitFor(async () => (await redis().exists(rankingKeys(getConfig().redisPrefix).complete)) === 1, SLOW, "ranking rebuilt");
      expect(await rankingOf(fixture.concertId)).toBe(expected);
    },
    SLOW,
  );
});
