import type { IncomingMessage, ServerResponse } from "node:http";
import { parseTrustProxy } from "../../lib/client-ip";
import { rateLimitKey } from "../../lib/rate-limit-store";
import { logResponseLine } from "../../lib/request-log";
import { requestAuth } from "../../lib/request-auth";

function req(fields: Record<string, unknown>): IncomingMessage {
  return { socket: { remoteAddress: "203.0.113.9" }, headers: {}, method: "POST", ...fields } as unknown as IncomingMessage;
}

describe("rate-limit key", () => {
  const key = rateLimitKey(parseTrustProxy(""));

  it("is the verified user, else the client IP; never a user named by an unverified header", () => {
    expect(key(req({ $auth: { user: { id: "alice", roles: [] }, refused: false } })).key).toBe("user:alice");
    expect(key(req({ headers: { authorization: "Bearer forged" }, $auth: { user: null, refused: true } })).key).toBe("ip:203.0.113.9");
    expect(key(req({})).key).toBe("ip:203.0.113.9");
  });

  it("marks minting tokens, joining a queue and paying as strict routes", () => {
    for (const action of ["auth.devToken", "queue.enter", "payments.create"]) expect(key(req({ $alias: { action } })).strict).toBe(true);
    for (const action of ["catalog.concerts", "points.balance", undefined]) expect(key(req({ $alias: { action } })).strict).toBe(false);
  });
});

describe("request auth", () => {
  it("refuses a bearer on a request the verifying middleware never saw (fails closed)", () => {
    expect(requestAuth(req({ headers: { authorization: "Bearer x" } }))).toEqual({ user: null, refused: true });
    expect(requestAuth(req({}))).toEqual({ user: null, refused: false });
  });
});

describe("request log", () => {
  it("names the request id and leaves the query string out", () => {
    const lines: string[] = [];
    const logger = { info: (line: string) => lines.push(line) } as never;
    const res = { statusCode: 429, getHeader: (name: string) => (name === "x-request-id" ? "req-abc123" : undefined) } as unknown as ServerResponse;
    logResponseLine(logger, "info", req({ method: "GET", originalUrl: "/api/points?token=secret" }), res);
    expect(lines).toEqual(["<= 429 GET /api/points [req req-abc123]"]);
  });
});
