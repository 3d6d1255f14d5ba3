import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import PaymentsService from "../../services/payments.service";
import PointsService from "../../services/points.service";
import QueueService from "../../services/queue.service";
import ReservationsService from "../../services/reservations.service";
import { getConfig, resetConfig } from "../../lib/config";
import type { RedisMethods } from "../../mixins/redis.mixin";
import { catalogCacheKeys } from "../../modules/catalog/cache-keys";
import type { ScheduleAvailability, SeatView } from "../../modules/catalog/catalog-queries";
import type { VersionedCache } from "../../modules/catalog/seat-map-cache";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { createConcertWithSeats, type ConcertFixture } from "../support/payments-fixtures";
import { activeTokens, ormOf } from "../support/reservations";

/**
 * SPEC invariant 6 on every node, through the real write path: after each 201 hold, 200 cancel and
 * 201 payment on the writer node, the FIRST seat-map read on the other node shows the change,
 * while readers hammer the seat map on both nodes (real PostgreSQL, Redis, NATS; no polling).
 */
const ROUNDS = 12;

describe("seat map on two nodes right after each change", () => {
  let writer: ServiceBroker; // gateway, reservations, payments, queue, points, catalog
  let reader: ServiceBroker; // another catalog node
  let base: string;
  let fixture: ConcertFixture;
  const viewer = "two-node-viewer";
  const buyers = Array.from({ length: ROUNDS }, (_, i) => `two-node-buyer-${i}`);
  let tokens: Map<string, string>;
  const bearer = new Map<string, string>();

  const readMeta = () => ({ meta: { user: { id: viewer }, queueToken: tokens.get(viewer) } });
  const seatMapOn = (node: ServiceBroker) => node.call<SeatView[], object>("catalog.seatMap", { scheduleId: fixture.scheduleId }, readMeta());
  const statusOn = async (node: ServiceBroker, seatId: number) => (await seatMapOn(node)).find((seat) => seat.id === seatId)?.status;
  const availableOn = async (node: ServiceBroker) =>
    (await node.call<ScheduleAvailability[], object>("catalog.listSchedules", { concertId: fixture.concertId }))[0].availableSeats;

  /** Readers on both nodes, each reading the seat map (and the schedule list) back to back until stopped. */
  function hammer(): { stop(): Promise<number> } {
    let running = true;
    let reads = 0;
    const loops = [writer, reader, writer, reader, writer, reader].map(async (node, i) => {
      while (running) {
        await (i % 3 === 2 ? availableOn(node) : seatMapOn(node));
        reads++;
      }
    });
    return {
      async stop() {
        running = false;
        await Promise.all(loops);
        return reads;
      },
    };
  }

  const buyer = (userId: string) => ({ token: bearer.get(userId)!, queueToken: tokens.get(userId)! });
  const hold = (userId: string, seatId: number) =>
    request("POST", `${base}/reservations`, { ...buyer(userId), json: { scheduleId: fixture.scheduleId, seatIds: [seatId] } });

  beforeAll(async () => {
    Object.assign(process.env, { QUEUE_ADMIT_INTERVAL_MS: "3600000", SEAT_CACHE_TTL_S: "300", RATE_LIMIT_PER_MIN: "0" });
    resetConfig();
    writer = await startNode([ApiService, AuthService, QueueService, ReservationsService, PaymentsService, PointsService, CatalogService], {
      nodeID: "two-node-writer",
    });
    reader = await startNode([CatalogService], { nodeID: "two-node-reader" });
    base = apiUrl(writer);
    await waitForApiAliases(writer, ["reservations.create", "payments.create", "points.charge", "auth.devToken"]);
    await reader.waitForServices(["queue"]);
    fixture = await createConcertWithSeats(ormOf(writer), ROUNDS + 4, 1000);
    tokens = await activeTokens(writer, [viewer, ...buyers], fixture.concertId);
    for (const userId of buyers) {
      bearer.set(userId, await devToken(base, userId));
      const charged = await request("POST", `${base}/points/charge`, { token: bearer.get(userId), json: { amount: 1000 } });
      expect(charged.status).toBe(200);
    }
    // Both nodes have the seat map cached before the first change.
    expect(await statusOn(reader, fixture.seatIds[0])).toBe("AVAILABLE");
    expect(await statusOn(writer, fixture.seatIds[0])).toBe("AVAILABLE");
  });
  afterAll(async () => {
    await stopNodes(reader, writer);
  });

  it(`${ROUNDS} rounds of hold, cancel, hold, pay: the first read on the other node after each answer shows it`, async () => {
    const readers = hammer();
    const seen: string[] = [];
    try {
      for (const [round, userId] of buyers.entries()) {
        const seatId = fixture.seatIds[round];
        const held = await hold(userId, seatId);
        expect(held.status).toBe(201);
        seen.push(`${round} hold ${await statusOn(reader, seatId)} ${await availableOn(reader)}`);

        const cancelled = await request("DELETE", `${base}/reservations/${held.body.id}`, buyer(userId));
        expect(cancelled.status).toBe(200);
        seen.push(`${round} cancel ${await statusOn(reader, seatId)} ${await availableOn(reader)}`);

        const again = await hold(userId, seatId);
        expect(again.status).toBe(201);
        seen.push(`${round} hold ${await statusOn(reader, seatId)} ${await availableOn(reader)}`);

        const paid = await request("POST", `${base}/payments`, { ...buyer(userId), idempotencyKey: `two-node-pay-${round}`, json: { reservationId: again.body.id } });
        expect(paid.status).toBe(201);
        seen.push(`${round} pay ${await statusOn(reader, seatId)} ${await availableOn(reader)}`);
      }
    } finally {
      const reads = await readers.stop();
      console.log(`${reads} concurrent reads on the two nodes during ${ROUNDS} rounds`);
    }
    const total = ROUNDS + 4;
    const expected = buyers.flatMap((_, round) => [
      `${round} hold HELD ${total - round - 1}`,
      `${round} cancel AVAILABLE ${total - round}`,
      `${round} hold HELD ${total - round - 1}`,
      `${round} pay SOLD ${total - round - 1}`,
    ]);
    expect(seen).toEqual(expected);
  });

  it("a hold does not wait for a fill, however slow, and the next read does not join that fill", async () => {
    const seatId = fixture.seatIds[ROUNDS];
    const userId = "two-node-late-buyer";
    bearer.set(userId, await devToken(base, userId));
    tokens.set(userId, (await activeTokens(writer, [userId], fixture.concertId)).get(userId)!);
    const keys = catalogCacheKeys.seatMap(getConfig().redisPrefix, fixture.scheduleId);
    // A fill of the current version on each node that does not finish (a stuck PostgreSQL query).
    const caches = [writer, reader].map((node) => (node.getLocalService("catalog") as unknown as { cache: VersionedCache }).cache);
    let release!: () => void;
    const stuck = new Promise<SeatView[]>((resolve) => {
      release = () => resolve([]);
    });
    const { redis } = writer.getLocalService("catalog") as unknown as RedisMethods;
    await redis.hdel(keys.data, "v"); // the current version misses, so the stuck loads below become its fills
    const stuckReads = caches.map((cache) => cache.read(keys, () => stuck));

    const started = Date.now();
    const held = await hold(userId, seatId);
    const holdMs = Date.now() - started;
    expect(held.status).toBe(201);
    expect(holdMs).toBeLessThan(1_000);
    expect(await statusOn(reader, seatId)).toBe("HELD");
    expect(await statusOn(writer, seatId)).toBe("HELD");
    release();
    await Promise.all(stuckReads);
    // The stuck fills read before the hold: they stored nothing current.
    expect(await statusOn(reader, seatId)).toBe("HELD");
  });
});
