import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { getConfig } from "../../lib/config";
import { DataPlatformClient } from "../../modules/data-platform/data-platform-client";
import { startDataPlatformStandIn, type DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { fakePayment, setStandInFaults, standInRecords, standInStats, waitFor } from "../support/kafka-payments";

/** The data-platform stand-in (real HTTP server, records in PostgreSQL) and the client that calls it. */
describe("data-platform stand-in and client (real HTTP, PostgreSQL)", () => {
  let standIn: DataPlatformStandIn;

  const post = (body: string) =>
    fetch(`${standIn.url}/reservations`, { method: "POST", headers: { "content-type": "application/json" }, body });

  beforeAll(async () => {
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
  });
  afterAll(() => standIn?.close());
  afterEach(async () => {
    await setStandInFaults(standIn.url, {});
  });

  it("applies an eventId once: 201 the first time, 200 and no change on a repeat", async () => {
    const payment = fakePayment();
    const before = await standInStats(standIn.url);
    const first = await post(JSON.stringify(payment));
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ eventId: payment.eventId, applied: true });
    const again = await post(JSON.stringify({ ...payment, amount: 1 }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ eventId: payment.eventId, applied: false });

    const records = (await standInRecords(standIn.url)).filter((r) => r.eventId === payment.eventId);
    expect(records).toHaveLength(1);
    expect(records[0].payload).toEqual(payment); // the repeat (with another amount) changed nothing
    expect(new Date(records[0].appliedAt).toISOString()).toBe(records[0].appliedAt);
    const after = await standInStats(standIn.url);
    expect(after.requests - before.requests).toBe(2);
    expect(after.applied - before.applied).toBe(1);
    expect(after.duplicates - before.duplicates).toBe(1);
  });

  it("applies each of many concurrent deliveries of one event exactly once", async () => {
    const payment = fakePayment();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => post(JSON.stringify(payment)).then((r) => r.status)));
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect((await standInRecords(standIn.url)).filter((r) => r.eventId === payment.eventId)).toHaveLength(1);
  });

  it.each([
    ["not JSON", "{oops"],
    ["no eventId", JSON.stringify({ paymentId: 1 })],
    ["an eventId that is not a uuid", JSON.stringify({ eventId: "123" })],
    ["an array", "[]"],
  ])("answers 400 for %s and applies nothing", async (_label, body) => {
    const before = (await standInRecords(standIn.url)).length;
    expect((await post(body)).status).toBe(400);
    expect((await standInRecords(standIn.url)).length).toBe(before);
  });

  it.each([
    [{ failRate: 2 }],
    [{ failRate: -0.1 }],
    [{ delayMs: -1 }],
    [{ delayMs: 1.5 }],
    [{ rejectEventIds: ["nope"] }],
    [{ surprise: true }],
  ])("refuses bad faults %j with 400 and keeps the current ones", async (faults) => {
    await setStandInFaults(standIn.url, { failRate: 0.25 });
    const response = await setStandInFaults(standIn.url, faults);
    expect(response.status).toBe(400);
    const current = await (await fetch(`${standIn.url}/_faults`)).json();
    expect(current).toEqual({ failRate: 0.25, delayMs: 0, rejectRate: 0, rejectEventIds: [], failEventIds: [] });
  });

  it("fails every request with 503 at failRate 1 and rejects listed eventIds with 422, applying nothing", async () => {
    const failing = fakePayment();
    const rejected = fakePayment();
    expect((await setStandInFaults(standIn.url, { failRate: 1 })).status).toBe(200);
    expect((await post(JSON.stringify(failing))).status).toBe(503);
    await setStandInFaults(standIn.url, { rejectEventIds: [rejected.eventId] });
    expect((await post(JSON.stringify(rejected))).status).toBe(422);
    expect((await post(JSON.stringify(failing))).status).toBe(201); // faults cleared for it
    const ids = (await standInRecords(standIn.url)).map((r) => r.eventId);
    expect(ids).toContain(failing.eventId);
    expect(ids).not.toContain(rejected.eventId);
  });

  it("keeps applied records across a restart (the dedup survives it)", async () => {
    const payment = fakePayment();
    expect((await post(JSON.stringify(payment))).status).toBe(201);
    await standIn.close();
    standIn = await startDataPlatformStandIn({ port: 0, databaseUrl: getConfig().databaseUrl });
    expect((await standInRecords(standIn.url)).map((r) => r.eventId)).toContain(payment.eventId);
    expect((await post(JSON.stringify(payment))).status).toBe(200);
    expect((await standInRecords(standIn.url)).filter((r) => r.eventId === payment.eventId)).toHaveLength(1);
  });

  describe("DataPlatformClient", () => {
    const client = () => new DataPlatformClient(standIn.url, 400);

    it("reports done for 2xx (first time and repeat)", async () => {
      const body = JSON.stringify(fakePayment());
      expect(await client().post(body)).toMatchObject({ verdict: "done", status: 201 });
      expect(await client().post(body)).toMatchObject({ verdict: "done", status: 200 });
    });

    it("reports reject for a 4xx refusal and retry for a 503", async () => {
      const payment = fakePayment();
      await setStandInFaults(standIn.url, { rejectEventIds: [payment.eventId] });
      expect(await client().post(JSON.stringify(payment))).toMatchObject({ verdict: "reject", status: 422 });
      expect(await client().post("not json")).toMatchObject({ verdict: "reject", status: 400 });
      await setStandInFaults(standIn.url, { failRate: 1 });
      expect(await client().post(JSON.stringify(payment))).toMatchObject({ verdict: "retry", status: 503 });
    });

    it("reports retry when the platform answers too slowly, and the late apply still counts once", async () => {
      const payment = fakePayment();
      const before = await standInStats(standIn.url);
      await setStandInFaults(standIn.url, { delayMs: 1000 });
      const result = await client().post(JSON.stringify(payment));
      expect(result).toMatchObject({ verdict: "retry" });
      expect(result.status).toBeUndefined();
      expect(result.detail).toMatch(/no answer within 400 ms/);
      await setStandInFaults(standIn.url, {});
      // The retry and the slow first request race to apply: whichever comes second changes nothing.
      expect((await client().post(JSON.stringify(payment))).verdict).toBe("done");
      const after = await waitFor(
        async () => {
          const stats = await standInStats(standIn.url);
          return stats.applied + stats.duplicates - before.applied - before.duplicates === 2 && stats;
        },
        5000,
        "the slow request to finish",
      );
      expect(after.applied - before.applied).toBe(1);
      expect(after.duplicates - before.duplicates).toBe(1);
      expect((await standInRecords(standIn.url)).filter((r) => r.eventId === payment.eventId)).toHaveLength(1);
    });

    it("reports retry when nothing listens", async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const { port: free } = probe.address() as { port: number };
          probe.close(() => resolve(free));
        });
      });
      const result = await new DataPlatformClient(`http://127.0.0.1:${port}`, 1000).post(JSON.stringify({ eventId: randomUUID() }));
      expect(result.verdict).toBe("retry");
      expect(result.detail).toMatch(/network error/);
    });
  });
});
