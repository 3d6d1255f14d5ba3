/**
 * Broken HTTP against a whole node (SPEC §11), a few thousand requests from a fixed seed over raw
 * sockets: corrupt gzip/deflate/br, unknown encodings, JSON 10,000 deep, truncated bodies and
 * stalled headers (HTTP_REQUEST_TIMEOUT_MS shortened), huge headers, odd methods, wrong content
 * types, garbage. None may get a 5xx, hang, or leak how we are built; afterwards the node is
 * healthy and a buyer's journey still works.
 */
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { getConfig, resetConfig } from "../../lib/config";
import { createConcert, createSchedule } from "../../modules/catalog/catalog-writes";
import type { OrmMethods } from "../../mixins/orm.mixin";
import { apiUrl, startNode, stopNodes, waitForApiAliases, type AnyServiceSchema } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { rawBytes, rawRequest, type RawResponse } from "../support/raw-http";

const SEED = 0x5eed_2026;
const REQUEST_TIMEOUT_MS = 1000;
const ORDINARY = [200, 201, 400, 401, 402, 403, 404, 409, 415, 422];
const LEAKS = /node_modules|\/work\/|\bat [\w.<>]+ \(|\bZ_[A-Z_]+|\bERR_[A-Z_]+|ECONN|zlib|incorrect header|"stack"|body-parser|moleculer-web/;

/** mulberry32: small, fast, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  kind: string;
  bytes: Buffer;
  /** Statuses this case may get; every case also must not be 5xx, hang or leak. */
  allowed: number[];
  timeoutMs?: number;
}

describe("HTTP fuzz at the gateway", () => {
  let node: ServiceBroker;
  let base: string;
  let port: number;
  let bearer: string;
  let concertId: number;
  let scheduleId: number;
  const results: Array<{ kind: string; response: RawResponse; allowed: number[] }> = [];

  beforeAll(async () => {
    Object.assign(process.env, { HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), RATE_LIMIT_PER_MIN: "0", QUEUE_ADMIT_INTERVAL_MS: "3600000" });
    resetConfig();
    const load = (name: string): AnyServiceSchema => require(`../../services/${name}.service`).default; // eslint-disable-line @typescript-eslint/no-require-imports
    node = await startNode(["api", "auth", "catalog", "queue", "reservations", "points", "payments", "ranking"].map(load), {
      nodeID: "fuzz-node",
    });
    base = apiUrl(node);
    port = (node.getLocalService("api") as unknown as { server: { address(): AddressInfo } }).server.address().port;
    await waitForApiAliases(node, ["auth.devToken", "queue.enter", "catalog.seatMap", "reservations.create", "api.health"]);
    const em = (node.getLocalService("catalog") as unknown as OrmMethods).em();
    concertId = await createConcert(em, "Fuzz Concert", "Hall F");
    scheduleId = await createSchedule(em, concertId, new Date("2027-06-06T10:00:00Z"), 10);
    bearer = await devToken(base, "fuzz_user");
  });
  afterAll(() => stopNodes(node));

  function cases(): Case[] {
    const random = prng(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T => items[int(items.length)];
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
    const auth = { Authorization: `Bearer ${bearer}` };
    const json = { "Content-Type": "application/json" };
    const targets = ["/api/auth/dev-token", "/api/reservations", `/api/concerts/${concertId}/queue`, "/api/points/charge", "/api/payments"];
    const valid = () => Buffer.from(JSON.stringify(pick([{ userId: "fuzz_user" }, { scheduleId, seatIds: [1, 2] }, { amount: 1000 }])));
    const compressors = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;
    const list: Case[] = [];
    const post = (kind: string, headers: Record<string, string>, body: Buffer, allowed: number[]) =>
      list.push({ kind, bytes: rawBytes("POST", pick(targets), { ...auth, ...headers }, body), allowed });

    for (let i = 0; i < 600; i++) {
      const encoding = pick(["gzip", "deflate", "br"] as const);
      const packed = compressors[encoding](valid());
      const corrupt = pick([
        () => bytes(1 + int(200)), // not compressed at all
        () => packed.subarray(0, Math.max(1, int(packed.length))), // truncated stream
        () => Buffer.concat([packed.subarray(0, packed.length - 4), bytes(4)]), // broken trailer (checksum)
      ])();
      // gzip and deflate carry a checksum; brotli does not, so a damaged br stream may inflate to
      // anything: then the usual answers to that body are fine (never a 5xx).
      post(`corrupt ${encoding}`, { ...json, "Content-Encoding": encoding }, corrupt, encoding === "br" ? ORDINARY : [400]);
    }
    for (let i = 0; i < 300; i++) {
      const encoding = pick(["compress", "x-gzip-ish", "identity, gzip", "gzip, br", "lz4", "gz\u00fcip", "*"]);
      post("unknown encoding", { ...json, "Content-Encoding": encoding }, valid(), [415]);
    }
    for (let i = 0; i < 200; i++) {
      const depth = pick([65, 100, 5000, 10_000]);
      const [open, close] = pick([["[", "]"], ['{"a":', "}"]]);
      const deep = Buffer.from(open.repeat(depth) + (open === "[" ? "" : "1") + close.repeat(depth));
      const gz = random() < 0.3;
      post(`json ${depth} deep`, gz ? { ...json, "Content-Encoding": "gzip" } : json, gz ? gzipSync(deep) : deep, [400]);
    }
    for (let i = 0; i < 400; i++) {
      const type = pick([
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "application/octet-stream",
        "",
        "application/json; charset=utf-8",
      ]);
      post(`content type '${type}'`, type ? { "Content-Type": type } : {}, valid(), ORDINARY);
    }
    for (let i = 0; i < 500; i++) {
      const body = pick([
        () => bytes(1 + int(300)),
        () => Buffer.from('{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'),
        () => Buffer.from(`{"amount":${"9".repeat(400)}}`),
        () => Buffer.from(pick(["null", "[]", '"str"', "1e999", "{", "}", "[[]]", "{\"a\":\u0000}"])),
        () => Buffer.from(JSON.stringify({ seatIds: Array.from({ length: 5000 }, (_, k) => k), scheduleId: -1 })),
      ])();
      post("garbage body", json, body, ORDINARY);
    }
    const paths = ["/api/concerts", "/api/health", `/api/schedules/${scheduleId}/seats`, "/api/%zz", "/api/reservations/%E0%A4%A", "/api/..%2f..%2fetc/passwd", "/api/concerts?x[a][b][c][d][e][f]=1", "/", "/api/queue/me"];
    for (let i = 0; i < 400; i++) {
      const method = pick(["GET", "PROPFIND", "PATCH", "TRACE", "OPTIONS", "HEAD", "PUT", "DELETE", "FOO", "M-SEARCH", "LINK", "PURGE", "QUERY"]);
      const path = pick(paths);
      list.push({ kind: `method ${method}`, bytes: rawBytes(method, path, auth), allowed: [200, 204, 400, 401, 403, 404, 405, 422] });
    }
    for (let i = 0; i < 50; i++) {
      list.push({ kind: "CONNECT", bytes: rawBytes("CONNECT", "127.0.0.1:22", {}), allowed: [400, 405] });
    }
    for (let i = 0; i < 100; i++) {
      const big = "x".repeat(20_000 + int(60_000));
      list.push({ kind: "huge header", bytes: rawBytes("GET", "/api/concerts", { "X-Big": big }), allowed: [431] });
    }
    for (let i = 0; i < 200; i++) {
      list.push({ kind: "garbage request", bytes: bytes(1 + int(400)), allowed: [400, 408] });
    }
    for (let i = 0; i < 40; i++) {
      // A body shorter than its Content-Length, or headers that never end: 408 within the timeout.
      const stalled = pick([
        () => Buffer.concat([rawBytes("POST", "/api/auth/dev-token", { ...json, "Content-Length": "200" }), Buffer.from('{"userId":')]),
        () => Buffer.from("GET /api/concerts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n"),
      ])();
      list.push({ kind: "stalled", bytes: stalled, allowed: [408], timeoutMs: REQUEST_TIMEOUT_MS + 4000 });
    }
    return list;
  }

  it("answers thousands of broken requests without a 5xx, a hang or a leak", async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(2500);
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < all.length) {
        const item = all[next++];
        const response = await rawRequest(port, item.bytes, item.timeoutMs ?? 5000);
        results.push({ kind: item.kind, response, allowed: item.allowed });
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    const byStatus = results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [String(r.response.status)]: (acc[String(r.response.status)] ?? 0) + 1 }), {});
    console.log(`${results.length} fuzz requests in ${Date.now() - started} ms: ${JSON.stringify(byStatus)}`);

    const hung = results.filter((r) => r.response.hung).map((r) => r.kind);
    expect(hung).toEqual([]);
    const serverErrors = results.filter((r) => (r.response.status ?? 0) >= 500).map((r) => `${r.kind}: ${r.response.status} ${r.response.body}`);
    expect(serverErrors).toEqual([]);
    const unexpected = results
      .filter((r) => r.response.status === null || !r.allowed.includes(r.response.status))
      .map((r) => `${r.kind}: ${r.response.status} ${r.response.body.slice(0, 120)}`);
    expect(unexpected).toEqual([]);
    const leaks = results.filter((r) => LEAKS.test(r.response.body)).map((r) => `${r.kind}: ${r.response.body.slice(0, 200)}`);
    expect(leaks).toEqual([]);
  });

  it("names each refusal with the API's type", () => {
    const parse = (kind: string, body: string) => {
      try {
        return JSON.parse(body);
      } catch {
        throw new Error(`${kind}: not a JSON body: ${JSON.stringify(body.slice(0, 200))}`);
      }
    };
    const bodyOf = (kind: RegExp) => results.filter((r) => kind.test(r.kind)).map((r) => parse(r.kind, r.response.body));
    expect(new Set(bodyOf(/^json \d+ deep$/).map((b) => `${b.code} ${b.type}`))).toEqual(new Set(["400 INVALID_JSON"]));
    expect(new Set(bodyOf(/^unknown encoding$/).map((b) => `${b.code} ${b.type}`))).toEqual(new Set(["415 UNSUPPORTED_MEDIA_TYPE"]));
    expect(new Set(bodyOf(/^corrupt (gzip|deflate)$/).map((b) => b.type))).toEqual(new Set(["INVALID_BODY"]));
    const stalled = results.filter((r) => r.kind === "stalled");
    expect(new Set(stalled.map((r) => parse(r.kind, r.response.body).type))).toEqual(new Set(["REQUEST_TIMEOUT"]));
    const times = stalled.map((r) => r.response.ms);
    console.log(`stalled requests answered 408 after ${Math.min(...times)}–${Math.max(...times)} ms (HTTP_REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS})`);
    // Within HTTP_REQUEST_TIMEOUT_MS of the request's start, with slack for a loaded machine.
    expect(Math.max(...times)).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);
  });

  it("is healthy afterwards, and a buyer's journey still works", async () => {
    const health = await request("GET", `${base}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const token = await devToken(base, "journey_user");
    // A malformed %-escape in a path parameter: moleculer-web's 400 UNABLE_DECODE_PARAM, in our words.
    const badEscape = await request("GET", `${base}/reservations/%E0%A4%A`, { token });
    expect(badEscape).toMatchObject({ status: 404, body: { type: "NOT_FOUND" } });
    const entered = await request("POST", `${base}/concerts/${concertId}/queue`, { token });
    expect(entered.status).toBe(201);
    const queueToken = await activeQueueToken(node, "journey_user", concertId);
    expect(queueToken).toBe(entered.body.token);
    const seats = await request("GET", `${base}/schedules/${scheduleId}/seats`, { token, queueToken });
    expect(seats.status).toBe(200);
    const free = seats.body.filter((seat: { status: string }) => seat.status === "AVAILABLE").slice(0, 2);
    const held = await request("POST", `${base}/reservations`, {
      token,
      queueToken,
      json: { scheduleId, seatIds: free.map((seat: { id: number }) => seat.id) },
    });
    expect(held).toMatchObject({ status: 201, body: { status: "HELD", scheduleId } });
    const read = await request("GET", `${base}/reservations/${held.body.id}`, { token });
    expect(read).toMatchObject({ status: 200, body: { id: held.body.id, status: "HELD" } });
    expect(getConfig().httpRequestTimeoutMs).toBe(REQUEST_TIMEOUT_MS);
  });
});
