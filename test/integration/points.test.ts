import type { ServiceBroker } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import PointsService from "../../services/points.service";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { moneySnapshot } from "../support/payments-fixtures";

describe("points over HTTP (real PostgreSQL, NATS)", () => {
  let node: ServiceBroker;
  let base: string;
  const em = () => (node.getLocalService("points") as unknown as OrmMethods).em();

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, PointsService], { nodeID: "points-http" });
    base = apiUrl(node);
    await waitForApiAliases(node, ["points.balance", "points.charge", "points.history", "auth.devToken"]);
  });
  afterAll(() => stopNodes(node));

  it("answers a balance of 0 for a user without a wallet, and creates none", async () => {
    const token = await devToken(base, "pts_new");
    const response = await request("GET", `${base}/points`, { token });
    expect(response).toMatchObject({ status: 200, body: { userId: "pts_new", balance: 0 } });
    expect((await moneySnapshot(em(), "pts_new")).balance).toBeNull();
  });

  it("charges, writes one CHARGE ledger entry per charge and lists them newest first", async () => {
    const token = await devToken(base, "pts_charge");
    const first = await request("POST", `${base}/points/charge`, { token, json: { amount: 5000 } });
    expect(first).toMatchObject({ status: 200, body: { userId: "pts_charge", balance: 5000 } });
    const second = await request("POST", `${base}/points/charge`, { token, json: { amount: 10_000_000 } });
    expect(second.body).toEqual({ userId: "pts_charge", balance: 10_005_000 });

    const balance = await request("GET", `${base}/points`, { token });
    expect(balance.body).toEqual({ userId: "pts_charge", balance: 10_005_000 });
    const history = await request("GET", `${base}/points/history`, { token });
    expect(history.status).toBe(200);
    expect(history.body).toHaveLength(2);
    expect(history.body[0]).toMatchObject({ type: "CHARGE", amount: 10_000_000, balanceAfter: 10_005_000 });
    expect(history.body[1]).toMatchObject({ type: "CHARGE", amount: 5000, balanceAfter: 5000 });
    expect(history.body[0].id).toBeGreaterThan(history.body[1].id);
    expect(new Date(history.body[0].createdAt).toISOString()).toBe(history.body[0].createdAt);

    const db = await moneySnapshot(em(), "pts_charge");
    expect(db.balance).toBe(10_005_000);
    expect(ledgerBalance(db.ledger)).toBe(db.balance);
  });

  it("limits the history to ?limit= (default 20) and refuses a limit outside 1..100", async () => {
    const token = await devToken(base, "pts_hist");
    for (let i = 1; i <= 22; i++) await request("POST", `${base}/points/charge`, { token, json: { amount: i } });
    const all = await request("GET", `${base}/points/history`, { token });
    expect(all.body).toHaveLength(20);
    expect(all.body[0].amount).toBe(22);
    const three = await request("GET", `${base}/points/history?limit=3`, { token });
    expect(three.body.map((e: { amount: number }) => e.amount)).toEqual([22, 21, 20]);
    for (const limit of ["0", "101", "abc", "2.5", "-1"]) {
      const bad = await request("GET", `${base}/points/history?limit=${limit}`, { token });
      expect(bad.status).toBe(422);
      expect(bad.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
      expect(bad.body.data[0]).toMatchObject({ field: "limit" });
    }
  });

  it("needs a bearer token for every points endpoint", async () => {
    for (const [method, path] of [["GET", "/points"], ["POST", "/points/charge"], ["GET", "/points/history"]]) {
      const response = await request(method, `${base}${path}`, { json: method === "POST" ? { amount: 10 } : undefined });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ type: "UNAUTHORIZED" });
    }
  });

  describe("bad input changes nothing", () => {
    const user = "pts_bad";
    let token: string;

    beforeAll(async () => {
      token = await devToken(base, user);
      await request("POST", `${base}/points/charge`, { token, json: { amount: 700 } });
    });

    it.each([
      ["zero", { amount: 0 }],
      ["negative", { amount: -100 }],
      ["fractional", { amount: 10.5 }],
      ["above 10,000,000", { amount: 10_000_001 }],
      ["huge", { amount: 1e300 }],
      ["a numeric string", { amount: "100" }],
      ["null", { amount: null }],
      ["missing", {}],
      ["a boolean", { amount: true }],
    ])("refuses an amount that is %s with 422 on the amount field", async (_label, json) => {
      const before = await moneySnapshot(em(), user);
      const response = await request("POST", `${base}/points/charge`, { token, json });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
      expect(response.body.data[0]).toMatchObject({ field: "amount" });
      expect(await moneySnapshot(em(), user)).toEqual(before);
    });

    it("refuses an amount that overflows to Infinity in JSON with 422", async () => {
      const before = await moneySnapshot(em(), user);
      const response = await request("POST", `${base}/points/charge`, { token, rawBody: '{"amount": 1e400}' });
      expect(response.status).toBe(422);
      expect(await moneySnapshot(em(), user)).toEqual(before);
    });

    it.each([
      ["too short", "abc1234"],
      ["too long", "k".repeat(129)],
      ["with spaces", "key with spaces"],
      ["with other symbols", "key/with+symbols="],
      ["empty", ""],
    ])("refuses an Idempotency-Key that is %s with 422 and charges nothing", async (_label, key) => {
      const before = await moneySnapshot(em(), user);
      const response = await request("POST", `${base}/points/charge`, {
        token,
        json: { amount: 100 },
        headers: { "idempotency-key": key },
      });
      expect(response.status).toBe(422);
      expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
      expect(response.body.data[0]).toMatchObject({ field: "Idempotency-Key" });
      expect(await moneySnapshot(em(), user)).toEqual(before);
    });
  });

  describe("Idempotency-Key", () => {
    it("answers a repeated charge with the first result and charges once", async () => {
      const token = await devToken(base, "pts_idem");
      const key = "charge-key-0001";
      const first = await request("POST", `${base}/points/charge`, { token, json: { amount: 300 }, idempotencyKey: key });
      expect(first).toMatchObject({ status: 200, body: { userId: "pts_idem", balance: 300 } });
      await request("POST", `${base}/points/charge`, { token, json: { amount: 50 } });
      const again = await request("POST", `${base}/points/charge`, { token, json: { amount: 300 }, idempotencyKey: key });
      expect(again).toMatchObject({ status: 200, body: { userId: "pts_idem", balance: 300 } });

      const db = await moneySnapshot(em(), "pts_idem");
      expect(db.balance).toBe(350);
      expect(db.ledger.filter((e) => e.idempotencyKey === key)).toHaveLength(1);
      expect(db.ledger).toHaveLength(2);
    });

    it("refuses the same key with another amount (409 IDEMPOTENCY_KEY_REUSED) and charges nothing", async () => {
      const token = await devToken(base, "pts_reuse");
      const key = "charge-key-reuse";
      await request("POST", `${base}/points/charge`, { token, json: { amount: 300 }, idempotencyKey: key });
      const before = await moneySnapshot(em(), "pts_reuse");
      const other = await request("POST", `${base}/points/charge`, { token, json: { amount: 301 }, idempotencyKey: key });
      expect(other.status).toBe(409);
      expect(other.body).toMatchObject({ type: "IDEMPOTENCY_KEY_REUSED" });
      expect(await moneySnapshot(em(), "pts_reuse")).toEqual(before);
    });

    it("keeps keys per user: the same key of two users charges both", async () => {
      const key = "shared-key-between-users";
      for (const user of ["pts_k1", "pts_k2"]) {
        const token = await devToken(base, user);
        const response = await request("POST", `${base}/points/charge`, { token, json: { amount: 40 }, idempotencyKey: key });
        expect(response.body).toEqual({ userId: user, balance: 40 });
      }
    });

    it("charges once when the same key arrives 30 times at once", async () => {
      const token = await devToken(base, "pts_race");
      const key = "race-key-000000001";
      const responses = await Promise.all(
        Array.from({ length: 30 }, () => request("POST", `${base}/points/charge`, { token, json: { amount: 1234 }, idempotencyKey: key })),
      );
      for (const response of responses) expect(response).toMatchObject({ status: 200, body: { userId: "pts_race", balance: 1234 } });
      const db = await moneySnapshot(em(), "pts_race");
      expect(db.balance).toBe(1234);
      expect(db.ledger).toHaveLength(1);
    });
  });
});

describe("points across two nodes (broker calls over NATS)", () => {
  let nodeA: ServiceBroker;
  let nodeB: ServiceBroker;

  beforeAll(async () => {
    nodeA = await startNode([PointsService], { nodeID: "points-a" });
    nodeB = await startNode([PointsService], { nodeID: "points-b" });
    await nodeA.waitForServices(["points"]);
  });
  afterAll(() => stopNodes(nodeA, nodeB));

  it("keeps balance = ledger sum under 100 concurrent charges, half with repeated keys", async () => {
    const userId = "pts_concurrent";
    const meta = { user: { id: userId } };
    const calls = Array.from({ length: 100 }, (_, i) => {
      const broker = i % 2 === 0 ? nodeA : nodeB;
      // Every other pair of calls shares a key: 25 keys each sent twice, plus 50 keyless charges.
      const idempotencyKey = i % 4 < 2 ? `concurrent-key-${Math.floor(i / 4)}` : undefined;
      const amount = idempotencyKey ? 1000 + Math.floor(i / 4) : 100 + i;
      return broker.call<{ balance: number }, { amount: number }>("points.charge", { amount }, { meta: { ...meta, idempotencyKey } });
    });
    const results = await Promise.all(calls);
    expect(results).toHaveLength(100);

    const em = (nodeA.getLocalService("points") as unknown as OrmMethods).em();
    const db = await moneySnapshot(em, userId);
    expect(db.ledger).toHaveLength(75);
    expect(db.balance).toBe(ledgerBalance(db.ledger));
    expect(isConsistentChain(db.ledger)).toBe(true);
    // Each keyed pair charged once, and both calls of a pair got the same answer.
    const keyed = db.ledger.filter((e) => e.idempotencyKey !== null);
    expect(new Set(keyed.map((e) => e.idempotencyKey)).size).toBe(25);
    for (let i = 0; i < 100; i += 4) expect(results[i].balance).toBe(results[i + 1].balance);
    const expected = Array.from({ length: 100 }, (_, i) => (i % 4 < 2 ? (i % 4 === 0 ? 1000 + i / 4 : 0) : 100 + i));
    expect(db.balance).toBe(expected.reduce((a, b) => a + b, 0));
  });
});
