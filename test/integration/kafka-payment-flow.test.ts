/**
 * End to end over the real services: seats held and paid over HTTP on one node; the bridge and
 * the data-platform consumer on another; the stand-in, the topic (read independently) and the
 * ranking must each reflect every payment exactly as the database recorded it.
 */
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import DataPlatformService from "../../services/data-platform.service";
import KafkaBridgeService from "../../services/kafka-bridge.service";
import PaymentsService from "../../services/payments.service";
import PointsService from "../../services/points.service";
import QueueService from "../../services/queue.service";
import RankingService from "../../services/ranking.service";
import ReservationsService from "../../services/reservations.service";
import { devToken, request } from "../support/http";
import { deleteTestTopics, standInRecords, TopicReader, waitFor } from "../support/kafka-payments";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { createConcertWithSeats, type ConcertFixture } from "../support/payments-fixtures";
import { activeQueueToken } from "../support/queue";

const SLOW = 45_000;

interface PaymentRow {
  paymentId: number;
  reservationId: number;
  userId: string;
  amount: number;
  eventId: string;
  seatIds: number[];
}

describe("payment → Kafka → data platform and ranking, over the real services", () => {
  let standIn: DataPlatformStandIn;
  let reader: TopicReader;
  let web: ServiceBroker;
  let worker: ServiceBroker;
  let base: string;
  let concert: ConcertFixture;

  const em = () => (web.getLocalService("payments") as unknown as OrmMethods).em();

  /** Holds `seatIds` for a new user and pays them (twice with the same Idempotency-Key). */
  async function buy(userId: string, seatIds: number[]): Promise<void> {
    const token = await devToken(base, userId);
    expect((await request("POST", `${base}/points/charge`, { token, json: { amount: 1_000_000 } })).status).toBe(200);
    const queueToken = await activeQueueToken(web, userId, concert.concertId);
    const held = await request("POST", `${base}/reservations`, { token, queueToken, json: { scheduleId: concert.scheduleId, seatIds } });
    expect(held.status).toBe(201);
    const pay = () => request("POST", `${base}/payments`, { token, queueToken, idempotencyKey: `pay-${userId}`, json: { reservationId: held.body.id } });
    expect((await pay()).status).toBe(201);
    expect((await pay()).status).toBe(200); // a client retry: same payment, no second event
  }

  beforeAll(async () => {
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    process.env.DATA_PLATFORM_URL = standIn.url;
    resetConfig();
    reader = await new TopicReader(getConfig().kafkaTopicPaymentCompleted).start();
    web = await startNode([ApiService, AuthService, CatalogService, QueueService, ReservationsService, PointsService, PaymentsService, RankingService], {
      nodeID: "web",
    });
    worker = await startNode([KafkaBridgeService, DataPlatformService], { nodeID: "worker" });
    base = apiUrl(web);
    await waitForApiAliases(web, ["auth.devToken", "points.charge", "reservations.create", "payments.create", "ranking.concerts"]);
    concert = await createConcertWithSeats(em(), 12, 1000);
  }, SLOW);

  afterAll(async () => {
    await stopNodes(web, worker);
    await reader?.close();
    await standIn?.close();
    await deleteTestTopics();
  }, SLOW);

  it(
    "applies each payment once at the data platform, puts it on the topic keyed by reservation, and ranks the seats sold",
    async () => {
      const seats = concert.seatIds;
      await Promise.all([buy("flow_a", seats.slice(0, 4)), buy("flow_b", seats.slice(4, 6)), buy("flow_c", seats.slice(6, 9))]);

      const paid = await em().execute<PaymentRow[]>(
        `select p.id as "paymentId", p.reservation_id as "reservationId", p.user_id as "userId", p.amount, o.event_id as "eventId",
                array(select rs.seat_id from reservation_seat rs where rs.reservation_id = p.reservation_id order by rs.seat_id) as "seatIds"
           from payment p join outbox_event o on o.message_key = p.reservation_id::text
          where p.reservation_id in (select id from reservation where concert_id = ?)`,
        [concert.concertId],
      );
      expect(paid).toHaveLength(3);
      const eventIds = paid.map((p) => p.eventId);

      const records = await waitFor(async () => {
        const found = (await standInRecords(standIn.url)).filter((r) => eventIds.includes(r.eventId));
        return found.length === 3 && found;
      }, SLOW, "three applied records");
      for (const payment of paid) {
        const record = records.find((r) => r.eventId === payment.eventId)!;
        expect(record.payload).toMatchObject({
          eventId: payment.eventId,
          paymentId: payment.paymentId,
          reservationId: payment.reservationId,
          userId: payment.userId,
          concertId: concert.concertId,
          scheduleId: concert.scheduleId,
          amount: payment.amount,
        });
        expect([...(record.payload.seatIds as number[])].sort((a, b) => a - b)).toEqual(payment.seatIds);
        await waitFor(() => reader.withEventId(payment.eventId).length > 0, SLOW, "the message on the topic");
        const [message] = reader.withEventId(payment.eventId);
        expect(message.key).toBe(String(payment.reservationId));
        expect(JSON.parse(message.value)).toEqual(record.payload);
      }
      await waitFor(async () => {
        const [{ unpublished }] = await em().execute<Array<{ unpublished: number }>>(
          "select count(*)::int as unpublished from outbox_event where published_at is null",
        );
        return unpublished === 0;
      }, SLOW, "the outbox to drain");

      // The ranking equals the seats the database sold for the concert.
      const [{ sold }] = await em().execute<Array<{ sold: number }>>(
        "select count(*)::int as sold from seat where schedule_id = ? and status = 'SOLD'",
        [concert.scheduleId],
      );
      expect(sold).toBe(9);
      const ranking = await waitFor(async () => {
        const response = await request("GET", `${base}/rankings/concerts?limit=100`);
        const entry = (response.body as Array<{ concertId: number; soldSeats: number }>).find((e) => e.concertId === concert.concertId);
        return entry?.soldSeats === sold && entry;
      }, 10_000, "the ranking to count the sold seats");
      expect(ranking).toMatchObject({ concertId: concert.concertId, soldSeats: 9 });
    },
    SLOW,
  );
});
