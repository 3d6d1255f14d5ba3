import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { getSeatMap } from "../../modules/catalog/catalog-queries";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";

/** The operator's catalog API (SPEC §7) over HTTP: real PostgreSQL, Redis, NATS. */
describe("admin: concerts and schedules", () => {
  let node: ServiceBroker;
  let base: string;
  let admin: string;
  let user: string;
  const em = () => (node.getLocalService("catalog") as unknown as OrmMethods).em();

  async function counts(): Promise<{ concerts: number; schedules: number; seats: number }> {
    const [row] = await em().execute<Array<{ concerts: number; schedules: number; seats: number }>>(
      `select (select count(*)::int from concert) as concerts, (select count(*)::int from schedule) as schedules,
              (select count(*)::int from seat) as seats`,
    );
    return row;
  }
  const post = (path: string, json: unknown, token = admin) => request("POST", `${base}${path}`, { token, json });
  const patch = (path: string, json: unknown, token = admin) => request("PATCH", `${base}${path}`, { token, json });

  async function concert(body: Record<string, unknown> = {}): Promise<number> {
    const response = await post("/admin/concerts", { title: "Fixture", venue: "Hall", ...body });
    expect(response.status).toBe(201);
    return response.body.id;
  }

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService]);
    base = apiUrl(node);
    await waitForApiAliases(node, ["catalog.createConcert", "catalog.updateConcert", "catalog.createSchedule", "auth.devToken"]);
    admin = await devToken(base, "ops_1", ["admin"]);
    user = await devToken(base, "alice");
  });
  afterAll(() => stopNodes(node));

  describe("identity", () => {
    const routes: Array<[string, string, unknown]> = [
      ["POST", "/admin/concerts", { title: "T", venue: "V" }],
      ["PATCH", "/admin/concerts/1", { title: "T" }],
      ["POST", "/admin/concerts/1/schedules", { startsAt: "2027-01-01T10:00:00Z", sections: [{ name: "A", rows: 1, seatsPerRow: 1, price: 1 }] }],
    ];

    it.each(routes)("%s %s: 401 without a bearer, 403 without the admin role, nothing written", async (method, path, json) => {
      const before = await counts();
      const anonymous = await request(method, `${base}${path}`, { json });
      expect([anonymous.status, anonymous.body.type]).toEqual([401, "UNAUTHORIZED"]);
      const plain = await request(method, `${base}${path}`, { token: user, json });
      expect([plain.status, plain.body.type]).toEqual([403, "FORBIDDEN"]);
      expect(await counts()).toEqual(before);
    });

    it("mints operator tokens in development only for known roles", async () => {
      const bad = await request("POST", `${base}/auth/dev-token`, { json: { userId: "ops_2", roles: ["root"] } });
      expect(bad.status).toBe(422);
      const notList = await request("POST", `${base}/auth/dev-token`, { json: { userId: "ops_2", roles: "admin" } });
      expect(notList.status).toBe(422);
    });
  });

  describe("POST /api/admin/concerts", () => {
    it("creates a concert open now (201) and lists it with its windows", async () => {
      const response = await post("/admin/concerts", { title: "  New Show ", venue: "Olympic Hall" });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ id: expect.any(Number), title: "New Show", venue: "Olympic Hall", queueOpensAt: null, saleOpensAt: null });
      expect(response.headers.get("location")).toBe(`/api/concerts/${response.body.id}/schedules`);
      const listed = await request("GET", `${base}/concerts`);
      expect(listed.body).toContainEqual(response.body);
    });

    it("keeps the sale windows, as ISO-8601 UTC; catalog.getConcert answers the same", async () => {
      const response = await post("/admin/concerts", {
        title: "Windowed",
        venue: "Hall",
        queueOpensAt: "2027-03-01T09:00:00+09:00",
        saleOpensAt: "2027-03-01T01:00:00Z",
      });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ queueOpensAt: "2027-03-01T00:00:00.000Z", saleOpensAt: "2027-03-01T01:00:00.000Z" });
      await expect(node.call("catalog.getConcert", { concertId: response.body.id })).resolves.toEqual(response.body);
    });

    it.each([
      ["an empty title", { title: "   ", venue: "Hall" }, "title"],
      ["no venue", { title: "Show" }, "venue"],
      ["a title of 201 characters", { title: "x".repeat(201), venue: "Hall" }, "title"],
      ["a sale before the queue", { title: "S", venue: "H", queueOpensAt: "2027-03-02T00:00:00Z", saleOpensAt: "2027-03-01T00:00:00Z" }, "saleOpensAt"],
      ["a date that is not ISO-8601", { title: "S", venue: "H", queueOpensAt: "next friday" }, "queueOpensAt"],
      ["an impossible date", { title: "S", venue: "H", saleOpensAt: "2027-02-30T25:00:00Z" }, "saleOpensAt"],
      ["a number as date", { title: "S", venue: "H", saleOpensAt: 1767225600000 }, "saleOpensAt"],
    ])("refuses %s with 422 naming the field, writing nothing", async (_label, body, field) => {
      const before = await counts();
      const response = await post("/admin/concerts", body);
      expect(response.status).toBe(422);
      expect(response.body.type).toBe("VALIDATION_ERROR");
      expect(response.body.data.map((problem: { field: string }) => problem.field)).toContain(field);
      expect(await counts()).toEqual(before);
    });
  });

  describe("PATCH /api/admin/concerts/:id", () => {
    it("changes only the given fields (200)", async () => {
      const id = await concert({ queueOpensAt: "2027-04-01T00:00:00Z" });
      const renamed = await patch(`/admin/concerts/${id}`, { title: "Renamed", saleOpensAt: "2027-04-02T00:00:00Z" });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({
        id,
        title: "Renamed",
        venue: "Hall",
        queueOpensAt: "2027-04-01T00:00:00.000Z",
        saleOpensAt: "2027-04-02T00:00:00.000Z",
      });
      const cleared = await patch(`/admin/concerts/${id}`, { queueOpensAt: null, saleOpensAt: null });
      expect(cleared.body).toMatchObject({ title: "Renamed", queueOpensAt: null, saleOpensAt: null });
      await expect(node.call("catalog.getConcert", { concertId: id })).resolves.toEqual(cleared.body);
    });

    it("checks the windows as they will be: a sale before the existing queue is 422 and nothing changes", async () => {
      const id = await concert({ queueOpensAt: "2027-05-02T00:00:00Z", saleOpensAt: "2027-05-03T00:00:00Z" });
      const response = await patch(`/admin/concerts/${id}`, { title: "Changed", saleOpensAt: "2027-05-01T00:00:00Z" });
      expect([response.status, response.body.data[0].field]).toEqual([422, "saleOpensAt"]);
      await expect(node.call("catalog.getConcert", { concertId: id })).resolves.toMatchObject({
        title: "Fixture",
        saleOpensAt: "2027-05-03T00:00:00.000Z",
      });
    });

    it("answers 404 for an unknown concert and 422 for a bad id or field", async () => {
      const missing = await patch("/admin/concerts/987654", { title: "X" });
      expect([missing.status, missing.body.type]).toEqual([404, "CONCERT_NOT_FOUND"]);
      expect((await patch("/admin/concerts/abc", { title: "X" })).status).toBe(422);
      const id = await concert();
      expect((await patch(`/admin/concerts/${id}`, { venue: "" })).status).toBe(422);
      await expect(node.call("catalog.getConcert", { concertId: id })).resolves.toMatchObject({ venue: "Hall" });
    });
  });

  describe("POST /api/admin/concerts/:id/schedules", () => {
    const sections = [
      { name: "VIP", rows: 2, seatsPerRow: 3, price: 150000 },
      { name: "R", rows: 1, seatsPerRow: 4, price: 0 },
    ];

    it("creates the schedule with seats by section, row and number (201); the cached list shows it at once", async () => {
      const id = await concert();
      expect((await request("GET", `${base}/concerts/${id}/schedules`)).body).toEqual([]); // cached now
      const response = await post(`/admin/concerts/${id}/schedules`, { startsAt: "2027-06-01T19:00:00+09:00", sections });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({ id: expect.any(Number), concertId: id, startsAt: "2027-06-01T10:00:00.000Z", totalSeats: 10 });
      expect(response.headers.get("location")).toBe(`/api/schedules/${response.body.id}/seats`);
      const seats = await em().execute<Array<{ section: string; row: string; number: number; price: number; status: string }>>(
        "select section, row_label as row, number, price, status from seat where schedule_id = ? order by id",
        [response.body.id],
      );
      expect(seats.map((s) => `${s.section}-${s.row}-${s.number}`)).toEqual([
        "VIP-1-1", "VIP-1-2", "VIP-1-3", "VIP-2-1", "VIP-2-2", "VIP-2-3", "R-1-1", "R-1-2", "R-1-3", "R-1-4",
      ]);
      expect(seats.map((s) => s.price)).toEqual([...Array(6).fill(150000), 0, 0, 0, 0]);
      expect(new Set(seats.map((s) => s.status))).toEqual(new Set(["AVAILABLE"]));
      const listed = await request("GET", `${base}/concerts/${id}/schedules`);
      expect(listed.body).toEqual([{ ...response.body, availableSeats: 10 }]);
      const seatMap = await getSeatMap(em(), response.body.id); // what the seat map serves (and caches)
      expect(seatMap[3]).toEqual({ id: expect.any(Number), section: "VIP", row: "2", number: 1, price: 150000, status: "AVAILABLE" });
    });

    it("creates a 10,000-seat schedule in one go, well under a second of database time", async () => {
      const id = await concert();
      const started = process.hrtime.bigint();
      const response = await post(`/admin/concerts/${id}/schedules`, {
        startsAt: "2027-07-01T10:00:00Z",
        sections: [
          { name: "Floor", rows: 50, seatsPerRow: 100, price: 120000 },
          { name: "Stand", rows: 100, seatsPerRow: 50, price: 70000 },
        ],
      });
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      console.log(`10,000-seat schedule created over HTTP in ${elapsedMs.toFixed(0)} ms`);
      expect(response.status).toBe(201);
      expect(response.body.totalSeats).toBe(10_000);
      const [row] = await em().execute<Array<{ n: number; distinct: number }>>(
        "select count(*)::int as n, count(distinct (section, row_label, number))::int as distinct from seat where schedule_id = ?",
        [response.body.id],
      );
      expect(row).toEqual({ n: 10_000, distinct: 10_000 });
      expect(elapsedMs).toBeLessThan(5_000); // about 0.2 s measured; slack for a loaded machine
    });

    it.each([
      ["no sections", { sections: [] }, "sections"],
      ["0 seats (0 rows)", { sections: [{ name: "A", rows: 0, seatsPerRow: 10, price: 1 }] }, "sections[0].rows"],
      ["10,001 seats", { sections: [{ name: "A", rows: 100, seatsPerRow: 100, price: 1 }, { name: "B", rows: 1, seatsPerRow: 1, price: 1 }] }, "sections"],
      ["a negative price", { sections: [{ name: "A", rows: 1, seatsPerRow: 1, price: -1 }] }, "sections[0].price"],
      ["a fractional price", { sections: [{ name: "A", rows: 1, seatsPerRow: 1, price: 1.5 }] }, "sections[0].price"],
      ["a price given as text", { sections: [{ name: "A", rows: 1, seatsPerRow: 1, price: "100" }] }, "sections[0].price"],
      ["duplicate section names", { sections: [{ name: "VIP", rows: 1, seatsPerRow: 1, price: 1 }, { name: "vip ", rows: 1, seatsPerRow: 1, price: 1 }] }, "sections[1].name"],
      ["an empty section name", { sections: [{ name: " ", rows: 1, seatsPerRow: 1, price: 1 }] }, "sections[0].name"],
      ["no start", { startsAt: undefined }, "startsAt"],
      ["a start that is not ISO-8601", { startsAt: "01/06/2027" }, "startsAt"],
    ])("refuses %s with 422 naming the field, writing nothing", async (_label, override, field) => {
      const id = await concert();
      const before = await counts();
      const response = await post(`/admin/concerts/${id}/schedules`, { startsAt: "2027-06-01T10:00:00Z", sections, ...override });
      expect(response.status).toBe(422);
      expect(response.body.data.map((problem: { field: string }) => problem.field)).toContain(field);
      expect(await counts()).toEqual(before);
    });

    it("answers 404 for an unknown concert, writing nothing", async () => {
      const before = await counts();
      const response = await post("/admin/concerts/987654/schedules", { startsAt: "2027-06-01T10:00:00Z", sections });
      expect([response.status, response.body.type]).toEqual([404, "CONCERT_NOT_FOUND"]);
      expect(await counts()).toEqual(before);
    });
  });
});
