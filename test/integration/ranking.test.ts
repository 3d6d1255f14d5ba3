import type { ServiceBroker } from "moleculer";
import { getConfig } from "../../lib/config";
import type { OrmMethods } from "../../mixins/orm.mixin";
import type { RedisMethods } from "../../mixins/redis.mixin";
import { createConcert } from "../../modules/catalog/catalog-writes";
import { rankingKeys } from "../../modules/ranking/concert-ranking";
import ApiService from "../../services/api.service";
import CatalogService from "../../services/catalog.service";
import RankingService from "../../services/ranking.service";
import { request } from "../support/http";
import { fakePayment, type PaymentCompletedPayload } from "../support/kafka-payments";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";

/** Seat counts of the payments of one concert, each 1–4 seats, adding up to `total`. */
function seatChunks(total: number): number[] {
  const chunks: number[] = [];
  for (let left = total; left > 0; left -= Math.min(4, left)) chunks.push(Math.min(4, left));
  return chunks;
}

describe("ranking (real Redis, NATS, two nodes)", () => {
  let n1: ServiceBroker;
  let n2: ServiceBroker;
  let base: string;
  const concertIds: number[] = []; // concertIds[i] sold i + 1 seats
  const payments: PaymentCompletedPayload[] = [];

  const redis = () => (n1.getLocalService("ranking") as unknown as RedisMethods).redis;
  const rankingKey = () => rankingKeys(getConfig().redisPrefix).concerts;
  const zsetSnapshot = async () => redis().zrange(rankingKey(), 0, -1, "WITHSCORES");

  beforeAll(async () => {
    n1 = await startNode([ApiService, CatalogService, RankingService], { nodeID: "rank-1" });
    n2 = await startNode([RankingService], { nodeID: "rank-2" });
    base = apiUrl(n1);
    await waitForApiAliases(n1, ["ranking.concerts"]);
    const em = (n1.getLocalService("catalog") as unknown as OrmMethods).em();
    let seat = 1;
    for (let i = 0; i < 12; i++) {
      const concertId = await createConcert(em, `Ranked Concert ${i + 1}`, "Hall");
      concertIds.push(concertId);
      for (const size of seatChunks(i + 1)) {
        payments.push(fakePayment({ concertId, seatIds: Array.from({ length: size }, () => seat++) }));
      }
    }
  });
  afterAll(() => stopNodes(n1, n2));

  it("counts each payment once although every event arrives four times, on both nodes at once", async () => {
    // broadcastLocal resolves once that node's handler finished, so every delivery is done below.
    await Promise.all(
      payments.flatMap((payment) => [
        n1.broadcastLocal("payment.completed", payment),
        n2.broadcastLocal("payment.completed", payment),
        n1.broadcastLocal("payment.completed", payment),
        n2.broadcastLocal("payment.completed", payment),
      ]),
    );
    for (let i = 0; i < concertIds.length; i++) {
      expect(Number(await redis().zscore(rankingKey(), String(concertIds[i])))).toBe(i + 1);
    }
    const sold = payments.reduce((sum, p) => sum + p.seatIds.length, 0);
    const flat = await zsetSnapshot();
    const total = flat.filter((_, i) => i % 2 === 1).reduce((sum, score) => sum + Number(score), 0);
    expect(total).toBe(sold);
  });

  it("serves the best-selling concerts with their titles, best first, 10 by default", async () => {
    const response = await request("GET", `${base}/rankings/concerts`);
    expect(response.status).toBe(200);
    expect(response.body).toHaveLength(10);
    expect(response.body[0]).toEqual({ concertId: concertIds[11], title: "Ranked Concert 12", soldSeats: 12 });
    const expected = Array.from({ length: 10 }, (_, k) => 11 - k).map((i) => ({
      concertId: concertIds[i],
      title: `Ranked Concert ${i + 1}`,
      soldSeats: i + 1,
    }));
    expect(response.body).toEqual(expected);
  });

  it("honours ?limit= from 1 to 100", async () => {
    const response = await request("GET", `${base}/rankings/concerts?limit=2`);
    expect(response.status).toBe(200);
    expect(response.body.map((entry: { soldSeats: number }) => entry.soldSeats)).toEqual([12, 11]);
    const all = await request("GET", `${base}/rankings/concerts?limit=100`);
    expect(all.body).toHaveLength(12);
  });

  it.each(["0", "101", "abc", "1.5", "-3"])("refuses limit=%s with 422 and changes nothing", async (limit) => {
    const before = await zsetSnapshot();
    const response = await request("GET", `${base}/rankings/concerts?limit=${limit}`);
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(await zsetSnapshot()).toEqual(before);
  });

  it("ignores a malformed event and leaves out a concert the catalog no longer knows", async () => {
    const before = await zsetSnapshot();
    await n1.broadcastLocal("payment.completed", { paymentId: "x", concertId: concertIds[0], seatIds: [1] });
    expect(await zsetSnapshot()).toEqual(before);

    const ghost = fakePayment({ concertId: 987_654, seatIds: [1, 2, 3, 4] });
    for (let i = 0; i < 4; i++) await n2.broadcastLocal("payment.completed", ghost);
    for (const seatIds of [[5, 6, 7, 8], [9, 10, 11, 12], [13]]) {
      await n2.broadcastLocal("payment.completed", fakePayment({ concertId: 987_654, seatIds }));
    }
    expect(Number(await redis().zscore(rankingKey(), "987654"))).toBe(13);
    const response = await request("GET", `${base}/rankings/concerts?limit=3`);
    expect(response.status).toBe(200);
    expect(response.body.map((entry: { concertId: number }) => entry.concertId)).toEqual([concertIds[11], concertIds[10]]);
  });
});
