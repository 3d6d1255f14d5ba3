import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import ApiService from "../../services/api.service";
import AuthService from "../../services/auth.service";
import CatalogService from "../../services/catalog.service";
import { signAccessToken } from "../../lib/auth";
import { getConfig } from "../../lib/config";
import { createConcert } from "../../modules/catalog/catalog-writes";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";

/** A service that only exists in this test: an endpoint that needs a user, echoing who it is. */
const ProbeService: ServiceSchema = {
  name: "probe",
  settings: { rest: "/probe" },
  actions: {
    me: {
      rest: "GET /me",
      auth: "required",
      params: {},
      handler: (ctx: Context<unknown, { user?: { id: string } }>) => ({ userId: ctx.meta.user?.id }),
    },
    echo: {
      rest: "POST /echo",
      params: { amount: { type: "number", integer: true, positive: true } },
      handler: (ctx: Context<{ amount: number }>) => ctx.params,
    },
  },
};

describe("gateway (real PostgreSQL, Redis, NATS, Kafka)", () => {
  let node: ServiceBroker;
  let base: string;

  beforeAll(async () => {
    node = await startNode([ApiService, AuthService, CatalogService, ProbeService]);
    base = apiUrl(node);
    await waitForApiAliases(node, ["probe.me", "probe.echo", "auth.devToken", "catalog.listConcerts", "api.health"]);
  });
  afterAll(() => stopNodes(node));

  // SPEC §11: health also counts the nodes of every service the API needs; this node runs only
  // auth and catalog of them, so it is degraded although every component is up.
  it("reports every component up, and the needed services this node lacks", async () => {
    const response = await request("GET", `${base}/health`);
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({
      status: "degraded",
      checks: { postgres: "up", redis: "up", nats: "up", kafka: "up" },
      services: { auth: 1, catalog: 1, queue: 0, reservations: 0, points: 0, payments: 0, ranking: 0 },
    });
    expect(response.body.nodes).toContainEqual({ id: node.nodeID, available: true, local: true });
  });

  it("lists concerts from the database", async () => {
    const catalog = node.getLocalService("catalog") as unknown as OrmMethods;
    const id = await createConcert(catalog.em(), "Gateway Test Concert", "Test Hall");
    const response = await request("GET", `${base}/concerts`);
    expect(response.status).toBe(200);
    expect(response.body).toContainEqual({ id, title: "Gateway Test Concert", venue: "Test Hall", queueOpensAt: null, saleOpensAt: null });
  });

  it("mints a dev token whose subject the services see as the user", async () => {
    const token = await devToken(base, "alice_01");
    const response = await request("GET", `${base}/probe/me`, { token });
    expect(response).toMatchObject({ status: 200, body: { userId: "alice_01" } });
  });

  it.each([
    ["no bearer", undefined],
    ["a forged token", signAccessToken("mallory", "not-the-secret")],
    ["an expired token", signAccessToken("bob", getConfig().authJwtSecret, -10)],
    ["garbage", "not.a.jwt"],
  ])("answers 401 UNAUTHORIZED for %s", async (_label, token) => {
    const response = await request("GET", `${base}/probe/me`, { token });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
    expect(typeof response.body.message).toBe("string");
  });

  it("refuses a dev token for an invalid user id with 422 and field details", async () => {
    const response = await request("POST", `${base}/auth/dev-token`, { json: { userId: "bad id!" } });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
    expect(response.body.data[0]).toMatchObject({ field: "userId" });
  });

  it("answers 404 with the error body for an unknown route", async () => {
    const response = await request("GET", `${base}/no/such/route`);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
  });

  it("answers 422 INVALID_JSON for a malformed body", async () => {
    const response = await request("POST", `${base}/probe/echo`, { rawBody: '{"amount": 1,' });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ code: 422, type: "INVALID_JSON" });
  });

  it("answers 422 for wrong types and 413 for a huge body", async () => {
    const wrongType = await request("POST", `${base}/probe/echo`, { json: { amount: "12" } });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.data[0]).toMatchObject({ field: "amount" });
    const huge = await request("POST", `${base}/probe/echo`, { json: { amount: 1, filler: "x".repeat(200_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
  });
});
