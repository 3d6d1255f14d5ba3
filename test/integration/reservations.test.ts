/**
 * POST/GET/DELETE /api/reservations through the gateway (real PostgreSQL, Redis, NATS): the happy
 * path with its events, the guards, owner-only access, and bad input that must change nothing.
 */
import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import QueueService from "../../services/queue.service";
import ReservationsService from "../../services/reservations.service";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import { MAX_ROW_ID } from "../../modules/reservations/reservation-rules";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeTokens, bookingProblems, bookingState, eventRecorder, ormOf, waitFor, type RecordedEvent } from "../support/reservations";

describe("reservations over HTTP", () => {
  let node: ServiceBroker;
  let base: string;
  let concertId: number;
  let otherConcertId: number;
  let scheduleId: number;
  let otherScheduleId: number;
  let seats: number[];
  let otherSeats: number[];
  const bearer = new Map<string, string>();
  const queueToken = new Map<string, string>();
  const events: RecordedEvent[] = [];
  const users = ["alice", "bob", "carol"];

  async function seatIdsOf(schedule: number): Promise<number[]> {
    const rows = await ormOf(node).execute<Array<{ id: number }>>("select id from seat where schedule_id = ? order by number", [schedule]);
    return rows.map((row) => row.id);
  }

  /** Everything a failed request must leave as it was. */
  async function snapshot() {
    const em = ormOf(node);
    return {
      seats: await em.execute("select id, status from seat order by id"),
      reservations: await em.execute("select id, status, updated_at from reservation order by id"),
      links: await em.execute("select reservation_id, seat_id, live from reservation_seat order by reservation_id, seat_id"),
    };
  }

  function reserve(user: string, json: unknown, token = queueToken.get(user)) {
    return request("POST", `${base}/reservations`, { token: bearer.get(user), queueToken: token, json });
  }

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService, QueueService, ReservationsService, eventRecorder(events)]);
    base = apiUrl(node);
    await waitForApiAliases(node, ["auth.devToken", "reservations.create", "reservations.get", "reservations.cancel"]);
    const em = ormOf(node);
    concertId = await createConcert(em, "Reservation HTTP concert", "Hall A");
    otherConcertId = await createConcert(em, "Another concert", "Hall B");
    scheduleId = await createSchedule(em, concertId, new Date("2030-05-01T19:00:00Z"), 10);
    otherScheduleId = await createSchedule(em, concertId, new Date("2030-05-02T19:00:00Z"), 10);
    seats = await seatIdsOf(scheduleId);
    otherSeats = await seatIdsOf(otherScheduleId);
    const tokens = await activeTokens(node, users, concertId);
    for (const user of users) {
      bearer.set(user, await devToken(base, user));
      queueToken.set(user, tokens.get(user)!);
    }
  });
  afterAll(() => stopNodes(node));

  /** Polls the (cached) seat map until `seat` shows `status`; well under the cache TTL of 10 s. */
  async function seatMapShows(user: string, seat: number, status: string): Promise<void> {
    await waitFor(async () => {
      const map = await request("GET", `${base}/schedules/${scheduleId}/seats`, { token: bearer.get(user), queueToken: queueToken.get(user) });
      return map.status === 200 && map.body.find((s: { id: number }) => s.id === seat)?.status === status;
    }, `seat ${seat} ${status} on the seat map`, 3_000);
  }

  it("holds seats (201), shows them to the owner, then cancels them back to AVAILABLE", async () => {
    await seatMapShows("alice", seats[0], "AVAILABLE"); // fills the seat-map cache
    const created = await reserve("alice", { scheduleId, seatIds: [seats[4], seats[0]] });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/reservations/${created.body.id}`);
    // The events invalidate the catalog's cache: the seat map shows the hold long before its TTL.
    await seatMapShows("bob", seats[0], "HELD");
    const prices = await ormOf(node).execute<Array<{ id: number; section: string; row: string; number: number; price: number }>>(
      "select id, section, row_label as row, number, price from seat where id in (?) order by id",
      [[seats[0], seats[4]]],
    );
    expect(created.body).toEqual({
      id: expect.any(Number),
      status: "HELD",
      concertId,
      scheduleId,
      seats: prices,
      amount: prices[0].price + prices[1].price,
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const holdMs = Date.parse(created.body.expiresAt) - Date.now();
    expect(holdMs).toBeGreaterThan(250_000); // RESERVATION_HOLD_S defaults to 300 s
    expect(holdMs).toBeLessThanOrEqual(300_000 + 5_000);
    const id = created.body.id;

    let state = await bookingState(ormOf(node), scheduleId);
    expect(bookingProblems(state)).toEqual([]);
    expect(state.liveReservations).toEqual([{ id, status: "HELD", seatIds: [seats[0], seats[4]] }]);
    await waitFor(() => events.some((e) => e.name === "reservation.held" && e.payload.reservationId === id), "reservation.held");
    expect(events.find((e) => e.payload.reservationId === id)?.payload).toEqual({
      reservationId: id,
      userId: "alice",
      concertId,
      scheduleId,
      seatIds: [seats[0], seats[4]],
      expiresAt: created.body.expiresAt,
    });

    // GET and DELETE need the bearer only, not an ACTIVE queue token.
    const fetched = await request("GET", `${base}/reservations/${id}`, { token: bearer.get("alice") });
    expect(fetched).toMatchObject({ status: 200, body: created.body });

    const cancelled = await request("DELETE", `${base}/reservations/${id}`, { token: bearer.get("alice") });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ ...created.body, status: "CANCELLED" });
    state = await bookingState(ormOf(node), scheduleId);
    expect(bookingProblems(state)).toEqual([]);
    expect(state.liveReservations).toEqual([]);
    expect(state.seatStatus.get(seats[0])).toBe("AVAILABLE");
    await seatMapShows("bob", seats[0], "AVAILABLE");
    await waitFor(() => events.some((e) => e.name === "reservation.released" && e.payload.reservationId === id), "reservation.released");
    expect(events.filter((e) => e.name === "reservation.released" && e.payload.reservationId === id).map((e) => e.payload)).toEqual([
      { reservationId: id, userId: "alice", concertId, scheduleId, seatIds: [seats[0], seats[4]], reason: "CANCELLED" },
    ]);

    // A cancelled reservation cannot be cancelled again, and nothing moves.
    const before = await snapshot();
    const again = await request("DELETE", `${base}/reservations/${id}`, { token: bearer.get("alice") });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 409, type: "RESERVATION_NOT_HELD", data: { reservationId: id, status: "CANCELLED" } });
    expect(await snapshot()).toEqual(before);
    expect(events.filter((e) => e.name === "reservation.released" && e.payload.reservationId === id)).toHaveLength(1);
    expect(await request("GET", `${base}/reservations/${id}`, { token: bearer.get("alice") })).toMatchObject({
      status: 200,
      body: { status: "CANCELLED" },
    });

    // The freed seats can be held again.
    const rebooked = await reserve("bob", { scheduleId, seatIds: [seats[0]] });
    expect(rebooked.status).toBe(201);
    await request("DELETE", `${base}/reservations/${rebooked.body.id}`, { token: bearer.get("bob") });
  });

  it("shows a reservation to its owner only: anyone else gets 404 and changes nothing", async () => {
    const created = await reserve("alice", { scheduleId, seatIds: [seats[1]] });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const before = await snapshot();

    for (const method of ["GET", "DELETE"]) {
      const response = await request(method, `${base}/reservations/${id}`, { token: bearer.get("carol") });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ code: 404, type: "RESERVATION_NOT_FOUND" });
    }
    expect(await request("GET", `${base}/reservations/${MAX_ROW_ID}`, { token: bearer.get("alice") })).toMatchObject({
      status: 404,
      body: { type: "RESERVATION_NOT_FOUND" },
    });
    for (const badId of ["abc", "0", "-3", "1.5", String(MAX_ROW_ID + 1)]) {
      expect((await request("GET", `${base}/reservations/${badId}`, { token: bearer.get("alice") })).status).toBe(422);
      expect((await request("DELETE", `${base}/reservations/${badId}`, { token: bearer.get("alice") })).status).toBe(422);
    }
    expect((await request("GET", `${base}/reservations/${id}`)).body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
    expect((await request("DELETE", `${base}/reservations/${id}`)).body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
    expect(await snapshot()).toEqual(before);

    await request("DELETE", `${base}/reservations/${id}`, { token: bearer.get("alice") });
  });

  it("needs a user and an ACTIVE queue token of the schedule's concert to hold seats", async () => {
    const before = await snapshot();
    const body = { scheduleId, seatIds: [seats[2]] };
    expect((await request("POST", `${base}/reservations`, { json: body, queueToken: queueToken.get("alice") })).body).toMatchObject({
      code: 401,
      type: "UNAUTHORIZED",
    });
    expect((await reserve("alice", body, "")).body).toMatchObject({ code: 403, type: "QUEUE_NOT_ACTIVE" });
    // Bob's token presented by Alice, and a forged token.
    expect((await reserve("alice", body, queueToken.get("bob"))).body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    expect((await reserve("alice", body, "forged.token")).body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    // A genuine token of another concert does not open this one.
    const [otherToken] = (await activeTokens(node, ["dave"], otherConcertId)).values();
    bearer.set("dave", await devToken(base, "dave"));
    expect((await reserve("dave", body, otherToken)).body).toMatchObject({ code: 401, type: "QUEUE_TOKEN_INVALID" });
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ["no seats", () => ({ scheduleId, seatIds: [] }), 422, "seatIds"],
    ["five seats", () => ({ scheduleId, seatIds: seats.slice(0, 5) }), 422, "seatIds"],
    ["a duplicate seat", () => ({ scheduleId, seatIds: [seats[3], seats[3]] }), 422, "seatIds"],
    ["a string seat id", () => ({ scheduleId, seatIds: [String(seats[3])] }), 422, "seatIds[0]"],
    ["a string schedule id", () => ({ scheduleId: String(scheduleId), seatIds: [seats[3]] }), 422, "scheduleId"],
    ["seatIds not an array", () => ({ scheduleId, seatIds: seats[3] }), 422, "seatIds"],
    ["no seatIds", () => ({ scheduleId }), 422, "seatIds"],
    ["a zero seat id", () => ({ scheduleId, seatIds: [0] }), 422, "seatIds[0]"],
    ["a fractional seat id", () => ({ scheduleId, seatIds: [1.5] }), 422, "seatIds[0]"],
    ["a seat id beyond any row", () => ({ scheduleId, seatIds: [MAX_ROW_ID + 1] }), 422, "seatIds[0]"],
  ])("answers 422 for %s and changes nothing", async (_label, body, status, field) => {
    const before = await snapshot();
    const response = await reserve("alice", body());
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(response.body.data.map((failure: { field: string }) => failure.field)).toContain(field);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ["seats of another schedule", () => ({ scheduleId, seatIds: [otherSeats[0]] }), "SEAT_NOT_FOUND", () => [otherSeats[0]]],
    ["a mix of this and another schedule", () => ({ scheduleId, seatIds: [seats[5], otherSeats[1]] }), "SEAT_NOT_FOUND", () => [otherSeats[1]]],
    ["unknown seat ids", () => ({ scheduleId, seatIds: [MAX_ROW_ID - 1, seats[5]] }), "SEAT_NOT_FOUND", () => [MAX_ROW_ID - 1]],
  ])("answers 404 for %s and holds nothing", async (_label, body, type, missing) => {
    const before = await snapshot();
    const response = await reserve("alice", body());
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 404, type, data: { seatIds: missing() } });
    expect(await snapshot()).toEqual(before);
  });

  it("answers 404 SCHEDULE_NOT_FOUND for an unknown schedule", async () => {
    const before = await snapshot();
    const response = await reserve("alice", { scheduleId: MAX_ROW_ID, seatIds: [seats[6]] });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 404, type: "SCHEDULE_NOT_FOUND" });
    expect(await snapshot()).toEqual(before);
  });

  it("answers 409 SEAT_UNAVAILABLE naming the taken seats, and holds none of the request", async () => {
    const taken = await reserve("bob", { scheduleId, seatIds: [seats[7]] });
    expect(taken.status).toBe(201);
    const before = await snapshot();
    const response = await reserve("alice", { scheduleId, seatIds: [seats[8], seats[7]] });
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ code: 409, type: "SEAT_UNAVAILABLE", data: { seatIds: [seats[7]] } });
    expect(await snapshot()).toEqual(before);
    // Bob himself cannot hold his seat twice either.
    expect((await reserve("bob", { scheduleId, seatIds: [seats[7]] })).body).toMatchObject({ code: 409, type: "SEAT_UNAVAILABLE" });
    expect(await snapshot()).toEqual(before);
    await request("DELETE", `${base}/reservations/${taken.body.id}`, { token: bearer.get("bob") });
  });
});
