import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { request } from "../support/http";
import { SqlCounter } from "../support/sql-counter";

/** Concerts and schedules over HTTP, on one node (real PostgreSQL, Redis, NATS). */
describe("catalog: concerts and schedules", () => {
  let node: ServiceBroker;
  let base: string;
  let sql: SqlCounter;
  const em = () => (node.getLocalService("catalog") as unknown as OrmMethods).em();

  /** A concert with schedules at the given day offsets (in that creation order). */
  async function concertWith(dayOffsets: number[]): Promise<{ concertId: number; scheduleIds: number[] }> {
    const concertId = await createConcert(em(), `Catalog Test ${Math.random()}`, "Test Hall");
    const scheduleIds: number[] = [];
    for (const days of dayOffsets) {
      scheduleIds.push(await createSchedule(em(), concertId, new Date(Date.UTC(2027, 0, 10 + days, 10))));
    }
    return { concertId, scheduleIds };
  }

  async function setSeatStatus(scheduleId: number, numbers: number[], status: string): Promise<void> {
    await em().execute("update seat set status = ? where schedule_id = ? and number in (?)", [status, scheduleId, numbers]);
  }

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService]);
    base = apiUrl(node);
    await waitForApiAliases(node, ["catalog.listConcerts", "catalog.listSchedules", "catalog.seatMap"]);
    sql = new SqlCounter([node]);
  });
  afterAll(async () => {
    sql?.stop();
    await stopNodes(node);
  });
  beforeEach(() => sql.reset());

  it("lists concerts", async () => {
    const { concertId } = await concertWith([]);
    const response = await request("GET", `${base}/concerts`);
    expect(response.status).toBe(200);
    expect(response.body).toContainEqual({
      id: concertId,
      title: expect.stringMatching(/^Catalog Test/),
      venue: "Test Hall",
      queueOpensAt: null,
      saleOpensAt: null,
    });
  });

  it("lists a concert's schedules earliest first, with the seats still AVAILABLE", async () => {
    const { concertId, scheduleIds } = await concertWith([2, 1]);
    await setSeatStatus(scheduleIds[0], [1, 2, 3], "HELD");
    await setSeatStatus(scheduleIds[0], [4], "SOLD");
    const response = await request("GET", `${base}/concerts/${concertId}/schedules`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual([
      { id: scheduleIds[1], concertId, startsAt: "2027-01-11T10:00:00.000Z", totalSeats: 50, availableSeats: 50 },
      { id: scheduleIds[0], concertId, startsAt: "2027-01-12T10:00:00.000Z", totalSeats: 50, availableSeats: 46 },
    ]);
  });

  it("?available=true keeps only schedules with a free seat", async () => {
    const { concertId, scheduleIds } = await concertWith([1, 2]);
    const allNumbers = Array.from({ length: 50 }, (_, i) => i + 1);
    await setSeatStatus(scheduleIds[0], allNumbers.slice(0, 25), "SOLD");
    await setSeatStatus(scheduleIds[0], allNumbers.slice(25), "HELD");
    const available = await request("GET", `${base}/concerts/${concertId}/schedules?available=true`);
    expect(available.status).toBe(200);
    expect(available.body.map((s: { id: number }) => s.id)).toEqual([scheduleIds[1]]);
    const all = await request("GET", `${base}/concerts/${concertId}/schedules?available=false`);
    expect(all.body.map((s: { id: number; availableSeats: number }) => [s.id, s.availableSeats])).toEqual([
      [scheduleIds[0], 0],
      [scheduleIds[1], 50],
    ]);
    // Both answers came from one cached list: the filter runs after the cache.
    expect(sql.count(/from concert c/)).toBe(1);
  });

  it("answers [] for a concert without schedules", async () => {
    const { concertId } = await concertWith([]);
    const response = await request("GET", `${base}/concerts/${concertId}/schedules`);
    expect(response).toMatchObject({ status: 200, body: [] });
  });

  it("answers 404 CONCERT_NOT_FOUND for an unknown concert, every time (errors are not cached)", async () => {
    for (let i = 0; i < 2; i++) {
      const response = await request("GET", `${base}/concerts/987654/schedules`);
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 404, type: "CONCERT_NOT_FOUND" });
    }
    expect(sql.count(/from concert c/)).toBe(2);
  });

  it("serves a cached schedule list without any SQL", async () => {
    const { concertId, scheduleIds } = await concertWith([1]);
    const first = await request("GET", `${base}/concerts/${concertId}/schedules`);
    expect(sql.count()).toBeGreaterThan(0);
    sql.reset();
    const hits = await Promise.all(Array.from({ length: 5 }, () => request("GET", `${base}/concerts/${concertId}/schedules`)));
    for (const hit of hits) expect(hit).toMatchObject({ status: 200, body: first.body });
    expect(first.body[0].id).toBe(scheduleIds[0]);
    expect(sql.count()).toBe(0);
  });

  it.each(["abc", "1.5", "-1", "0"])("answers 422 for concert id %p without touching the database", async (badId) => {
    const response = await request("GET", `${base}/concerts/${badId}/schedules`);
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(response.body.data[0]).toMatchObject({ field: "concertId" });
    expect(sql.count()).toBe(0);
  });

  it("answers 422 for a non-boolean ?available", async () => {
    const { concertId } = await concertWith([1]);
    const response = await request("GET", `${base}/concerts/${concertId}/schedules?available=maybe`);
    expect(response.status).toBe(422);
    expect(response.body.data[0]).toMatchObject({ field: "available" });
  });

  it("catalog.getSchedule returns the schedule (cached) or 404 SCHEDULE_NOT_FOUND", async () => {
    const { concertId, scheduleIds } = await concertWith([3]);
    const expected = { id: scheduleIds[0], concertId, startsAt: "2027-01-13T10:00:00.000Z", totalSeats: 50 };
    await expect(node.call("catalog.getSchedule", { scheduleId: scheduleIds[0] })).resolves.toEqual(expected);
    sql.reset();
    await expect(node.call("catalog.getSchedule", { scheduleId: String(scheduleIds[0]) })).resolves.toEqual(expected);
    expect(sql.count()).toBe(0);
    await expect(node.call("catalog.getSchedule", { scheduleId: 987654 })).rejects.toMatchObject({
      code: 404,
      type: "SCHEDULE_NOT_FOUND",
    });
  });

  it("does not route the cached inner actions or getSchedule over HTTP", () => {
    const api = node.getLocalService("api") as unknown as { aliases: Array<{ action?: string }> };
    const routed = api.aliases.map((alias) => alias.action);
    expect(routed).toEqual(expect.arrayContaining(["catalog.listSchedules", "catalog.seatMap"]));
    for (const inner of ["catalog.cachedSchedules", "catalog.cachedSeatMap", "catalog.getSchedule"]) {
      expect(routed).not.toContain(inner);
    }
  });
});
