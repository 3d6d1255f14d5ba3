import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import ReservationsService from "../../services/reservations.service";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { insertReservation } from "../support/payments-fixtures";

/** GET /api/admin/schedules/:id/reservations over HTTP, on a schedule made through the operator API. */
describe("operator reservation listing (real PostgreSQL, Redis, NATS)", () => {
  let node: ServiceBroker;
  let base: string;
  let admin: string;
  let fixture: { concertId: number; scheduleId: number; seatIds: number[] };
  const ids: Record<string, number> = {};
  const em = () => (node.getLocalService("reservations") as unknown as OrmMethods).em();
  const list = (scheduleId: unknown, query = "", token: string | null = admin) =>
    request("GET", `${base}/admin/schedules/${scheduleId}/reservations${query}`, { token: token ?? undefined });

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService, ReservationsService], { nodeID: "admin-list" });
    base = apiUrl(node);
    await waitForApiAliases(node, ["reservations.listForSchedule", "catalog.createSchedule", "auth.devToken"]);
    admin = await devToken(base, "list_admin", ["admin"]);

    const concert = await request("POST", `${base}/admin/concerts`, { token: admin, json: { title: "Listing Night", venue: "Hall" } });
    expect(concert.status).toBe(201);
    const schedule = await request("POST", `${base}/admin/concerts/${concert.body.id}/schedules`, {
      token: admin,
      json: {
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
        sections: [
          { name: "VIP", rows: 1, seatsPerRow: 2, price: 5000 },
          { name: "R", rows: 2, seatsPerRow: 2, price: 2000 },
        ],
      },
    });
    expect(schedule.status).toBe(201);
    const seats = await em().execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by id", [schedule.body.id]);
    fixture = { concertId: concert.body.id, scheduleId: schedule.body.id, seatIds: seats.map((s) => s.id) };
    const [vip1, vip2, r1, r2, r3] = fixture.seatIds;
    ids.held = (await insertReservation(em(), fixture, "list_u1", [vip1, r3])).reservationId;
    ids.confirmed = (await insertReservation(em(), fixture, "list_u2", [vip2], { status: "CONFIRMED" })).reservationId;
    ids.cancelled = (await insertReservation(em(), fixture, "list_u3", [r1], { status: "CANCELLED" })).reservationId;
    ids.lapsed = (await insertReservation(em(), fixture, "list_u4", [r2], { holdSeconds: -5 })).reservationId;
    // Another schedule's reservation never shows up.
    const other = await request("POST", `${base}/admin/concerts/${concert.body.id}/schedules`, {
      token: admin,
      json: { startsAt: new Date(Date.now() + 2 * 86_400_000).toISOString(), sections: [{ name: "A", rows: 1, seatsPerRow: 1, price: 100 }] },
    });
    const [otherSeat] = await em().execute<Array<{ id: number }>>("select id from seat where schedule_id = ?", [other.body.id]);
    await insertReservation(em(), { ...fixture, scheduleId: other.body.id }, "list_u5", [otherSeat.id]);
  });
  afterAll(() => stopNodes(node));

  it("lists a schedule's reservations oldest first with section, row, number and price of each seat", async () => {
    const response = await list(fixture.scheduleId);
    expect(response.status).toBe(200);
    const [vip1, vip2, r1, r2, r3] = fixture.seatIds;
    expect(response.body).toEqual([
      {
        id: ids.held,
        userId: "list_u1",
        status: "HELD",
        seats: [
          { id: vip1, section: "VIP", row: "1", number: 1, price: 5000 },
          { id: r3, section: "R", row: "2", number: 1, price: 2000 },
        ],
        amount: 7000,
        createdAt: expect.any(String),
      },
      expect.objectContaining({ id: ids.confirmed, userId: "list_u2", status: "CONFIRMED", amount: 5000 }),
      expect.objectContaining({ id: ids.cancelled, status: "CANCELLED", seats: [{ id: r1, section: "R", row: "1", number: 1, price: 2000 }] }),
      // A hold past its expiry reads as EXPIRED before the sweeper writes it.
      expect.objectContaining({ id: ids.lapsed, status: "EXPIRED", seats: [{ id: r2, section: "R", row: "1", number: 2, price: 2000 }] }),
    ]);
    expect(new Date(response.body[0].createdAt).toISOString()).toBe(response.body[0].createdAt);
    expect(response.body[1].seats).toEqual([{ id: vip2, section: "VIP", row: "1", number: 2, price: 5000 }]);
  });

  it("filters by status (EXPIRED includes lapsed holds, HELD excludes them) and pages by afterId", async () => {
    const statusOf = async (query: string) => (await list(fixture.scheduleId, query)).body.map((r: { id: number }) => r.id);
    expect(await statusOf("?status=HELD")).toEqual([ids.held]);
    expect(await statusOf("?status=EXPIRED")).toEqual([ids.lapsed]);
    expect(await statusOf("?status=CONFIRMED")).toEqual([ids.confirmed]);
    expect(await statusOf("?status=REFUNDED")).toEqual([]);
    expect(await statusOf(`?limit=2`)).toEqual([ids.held, ids.confirmed]);
    expect(await statusOf(`?limit=2&afterId=${ids.confirmed}`)).toEqual([ids.cancelled, ids.lapsed]);
  });

  it("answers 404 for an unknown schedule, 422 for bad input, 401/403 without the operator role", async () => {
    const missing = await list(2_000_000_000);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ type: "SCHEDULE_NOT_FOUND" });
    for (const [id, query] of [
      [fixture.scheduleId, "?status=SOLD"],
      [fixture.scheduleId, "?status=held"],
      [fixture.scheduleId, "?limit=0"],
      [fixture.scheduleId, "?limit=10001"],
      [fixture.scheduleId, "?afterId=-3"],
      ["abc", ""],
      ["0", ""],
    ] as const) {
      const bad = await list(id, query);
      expect([bad.status, bad.body.type]).toEqual([422, "VALIDATION_ERROR"]);
    }
    expect((await list(fixture.scheduleId, "", null)).status).toBe(401);
    const buyer = await list(fixture.scheduleId, "", await devToken(base, "list_u1"));
    expect([buyer.status, buyer.body.type]).toEqual([403, "FORBIDDEN"]);
  });
});
