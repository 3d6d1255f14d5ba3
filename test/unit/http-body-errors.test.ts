/** The gateway's refusal of broken bodies: JSON depth scan, body-parser error mapping, raw answers. */
import { gunzipSync, inflateSync, brotliDecompressSync } from "node:zlib";
import { Errors } from "moleculer";
import { clientErrorResponse, jsonDepthExceeds, mapBodyParserError, MAX_JSON_DEPTH, requestIdFor } from "../../lib/http-guard";
import { sanitizeError } from "../../lib/error-boundary";
import type { IncomingMessage } from "node:http";

const nested = (depth: number, open = "[", close = "]") => Buffer.from(open.repeat(depth) + close.repeat(depth));

/** As moleculer-web's route middleware chain hands a body-parser error on (utils.composeThen). */
function viaMoleculerWeb(err: Error & { status?: number; type?: string; code?: unknown }): Error {
  return new Errors.MoleculerError(err.message, (err.code as number) || (err.status ?? 400), err.type ?? "");
}

function zlibError(fn: (buf: Buffer) => Buffer): Error & { status?: number } {
  try {
    fn(Buffer.from("this is not compressed at all"));
  } catch (err) {
    return Object.assign(err as Error, { status: 400 }); // body-parser: createError(400, zlibError)
  }
  throw new Error("did not fail");
}

describe("jsonDepthExceeds", () => {
  it("allows 64 levels and refuses 65, for arrays and objects", () => {
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    const objects = Buffer.from('{"a":'.repeat(65) + "1" + "}".repeat(65));
    expect(jsonDepthExceeds(objects, MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds(nested(10_000), MAX_JSON_DEPTH)).toBe(true);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const text = JSON.stringify({ s: "[".repeat(500) + '\\"[[[' + "{".repeat(500) });
    expect(jsonDepthExceeds(Buffer.from(text), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(Buffer.from(JSON.stringify({ s: "한국어 [[[ 좌석" })), 1)).toBe(false);
  });

  it("costs little on a normal body (figure printed for the README)", () => {
    const body = Buffer.from(JSON.stringify({ scheduleId: 12, seatIds: [1, 2, 3, 4], note: "x".repeat(200) }));
    const big = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `seat ${i}`, tags: ["a", "b"] }))));
    const time = (buf: Buffer, rounds: number) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) jsonDepthExceeds(buf, MAX_JSON_DEPTH);
      return Number(process.hrtime.bigint() - started) / 1000 / rounds;
    };
    const smallUs = time(body, 20_000);
    const bigUs = time(big, 200);
    const parseStarted = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) JSON.parse(big.toString("utf8"));
    const parseUs = Number(process.hrtime.bigint() - parseStarted) / 1000 / 200;
    console.log(
      `depth scan: ${body.length} B body ${smallUs.toFixed(2)} µs; ${big.length} B body ${bigUs.toFixed(0)} µs (JSON.parse of it: ${parseUs.toFixed(0)} µs)`,
    );
    expect(smallUs).toBeLessThan(50);
    expect(bigUs).toBeLessThan(parseUs * 3);
  });
});

describe("mapBodyParserError", () => {
  it("turns corrupt gzip, deflate and br into 400 INVALID_BODY, raw or as moleculer-web passes them", () => {
    for (const fn of [gunzipSync, inflateSync, brotliDecompressSync]) {
      const raw = zlibError(fn);
      expect(typeof (raw as { code?: unknown }).code).toBe("string"); // Z_DATA_ERROR & co: the 500 of v1
      for (const err of [raw, viaMoleculerWeb(raw)]) {
        const mapped = mapBodyParserError(err, "100kb");
        expect(mapped).toMatchObject({ code: 400, type: "INVALID_BODY", message: "The request body could not be read" });
        expect(JSON.stringify(mapped)).not.toMatch(/Z_|zlib|header check|ERR_/);
      }
    }
  });

  it.each([
    ["entity.parse.failed", 400, 422, "INVALID_JSON"],
    ["json.too.deep", 403, 400, "INVALID_JSON"],
    ["entity.too.large", 413, 413, "PAYLOAD_TOO_LARGE"],
    ["encoding.unsupported", 415, 415, "UNSUPPORTED_MEDIA_TYPE"],
    ["charset.unsupported", 415, 415, "UNSUPPORTED_MEDIA_TYPE"],
    ["json.charset", 403, 415, "UNSUPPORTED_MEDIA_TYPE"],
    ["request.size.invalid", 400, 400, "INVALID_BODY"],
    ["request.aborted", 400, 400, "INVALID_BODY"],
  ])("maps %s (%i) to %i %s", (type, status, code, apiType) => {
    const err = Object.assign(new Error("library text"), { status, type });
    expect(mapBodyParserError(viaMoleculerWeb(err), "100kb")).toMatchObject({ code, type: apiType });
  });

  it("leaves other errors alone", () => {
    const domain = new Errors.MoleculerClientError("taken", 409, "SEAT_UNAVAILABLE");
    expect(mapBodyParserError(domain, "100kb")).toBe(domain);
    const bug = new TypeError("x");
    expect(mapBodyParserError(bug, "100kb")).toBe(bug);
    // and what stays unmapped is then a 500 without the library's words
    expect(sanitizeError(mapBodyParserError(bug, "100kb"), "r").error).toMatchObject({ code: 500, type: "INTERNAL_ERROR" });
  });
});

describe("raw answers and request ids", () => {
  it("answers timeouts 408, header overflow 431, other parse errors 400, and nothing to a reset", () => {
    expect(clientErrorResponse("ERR_HTTP_REQUEST_TIMEOUT")).toMatch(/^HTTP\/1\.1 408 [^]*"type":"REQUEST_TIMEOUT"/);
    expect(clientErrorResponse("HPE_HEADER_OVERFLOW")).toMatch(/^HTTP\/1\.1 431 /);
    expect(clientErrorResponse("HPE_INVALID_METHOD")).toMatch(/^HTTP\/1\.1 400 [^]*Connection: close/);
    expect(clientErrorResponse("ECONNRESET")).toBeNull();
    const response = clientErrorResponse("ERR_HTTP_REQUEST_TIMEOUT") as string;
    const [head, body] = response.split("\r\n\r\n");
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
  });

  it("keeps a well-formed caller request id and replaces anything else", () => {
    const req = (id?: string) => ({ headers: id === undefined ? {} : { "x-request-id": id } }) as IncomingMessage;
    expect(requestIdFor(req("trace-0123456789"))).toBe("trace-0123456789");
    for (const bad of [undefined, "short", "has space in it", "x".repeat(65)]) {
      expect(requestIdFor(req(bad))).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
