/** The rate limit is one budget per user (or IP) shared by every gateway node, kept in Redis. */
import type { ServiceBroker } from "moleculer";
import { resetConfig } from "../../lib/config";
import type { AnyServiceSchema } from "../support/nodes";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { request } from "../support/http";
import { signAccessToken } from "../../lib/auth";

process.env.RATE_LIMIT_PER_MIN = "6";
resetConfig();
// Loaded after the limit is configured: the gateway reads it when its schema is built.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ApiService: AnyServiceSchema = require("../../services/api.service").default;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AuthService: AnyServiceSchema = require("../../services/auth.service").default;

describe("rate limit across two gateway nodes", () => {
  let gatewayA: ServiceBroker;
  let gatewayB: ServiceBroker;

  beforeAll(async () => {
    gatewayA = await startNode([ApiService, AuthService], { nodeID: "gateway-a" });
    gatewayB = await startNode([ApiService], { nodeID: "gateway-b" });
    await waitForApiAliases(gatewayA, ["auth.devToken", "api.health"]);
    await waitForApiAliases(gatewayB, ["auth.devToken", "api.health"]);
  });
  afterAll(() => stopNodes(gatewayA, gatewayB));

  it("answers 429 once one user's requests over both nodes pass the limit, and not for another user", async () => {
    const { getConfig } = await import("../../lib/config");
    const secret = getConfig().authJwtSecret;
    const alice = signAccessToken(`alice-${Date.now()}`, secret);
    const bob = signAccessToken(`bob-${Date.now()}`, secret);
    const bases = [apiUrl(gatewayA), apiUrl(gatewayB)];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await request("POST", `${bases[i % 2]}/auth/dev-token`, { token: alice, json: { userId: "x" } });
      statuses.push(response.status);
      if (response.status === 429) expect(response.body).toMatchObject({ code: 429 });
    }
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    const other = await request("POST", `${bases[1]}/auth/dev-token`, { token: bob, json: { userId: "y" } });
    expect(other.status).toBe(200);
  });
});
