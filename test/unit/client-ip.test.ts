import type { IncomingMessage } from "node:http";
import { clientIp, parseTrustProxy } from "../../lib/client-ip";
import { corsSettings } from "../../lib/security-headers";

function req(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor };
  return { socket: { remoteAddress }, connection: { remoteAddress }, headers } as unknown as IncomingMessage;
}

describe("client IP behind proxies (TRUST_PROXY)", () => {
  it("believes no X-Forwarded-For by default", () => {
    for (const raw of ["", "false", "0"]) {
      expect(clientIp(req("203.0.113.9", "1.2.3.4"), parseTrustProxy(raw))).toBe("203.0.113.9");
    }
  });

  it("with a hop count, takes that many addresses from the right and no more", () => {
    const oneHop = parseTrustProxy("1");
    // The load balancer (10.0.0.5) appended the real client; what the client wrote before is ignored.
    expect(clientIp(req("10.0.0.5", "6.6.6.6, 198.51.100.7"), oneHop)).toBe("198.51.100.7");
    expect(clientIp(req("10.0.0.5"), oneHop)).toBe("10.0.0.5");
    expect(clientIp(req("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.4"), parseTrustProxy("2"))).toBe("198.51.100.7");
  });

  it("with a CIDR list, believes a forwarded address only from trusted peers", () => {
    const trust = parseTrustProxy("10.0.0.0/8, loopback");
    expect(clientIp(req("10.1.2.3", "198.51.100.7"), trust)).toBe("198.51.100.7");
    expect(clientIp(req("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.4"), trust)).toBe("198.51.100.7");
    // An untrusted peer cannot pretend to be someone else.
    expect(clientIp(req("203.0.113.9", "1.2.3.4"), trust)).toBe("203.0.113.9");
    expect(clientIp(req("::ffff:203.0.113.9", "1.2.3.4"), trust)).toBe("203.0.113.9");
  });

  it("refuses a setting that would trust everyone or is not an address list", () => {
    expect(() => parseTrustProxy("true")).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy("10.0.0.0/99")).toThrow(/TRUST_PROXY/);
    expect(() => parseTrustProxy("not-an-ip")).toThrow(/TRUST_PROXY/);
  });
});

describe("CORS settings", () => {
  it("are off without origins, and list exactly the configured origins otherwise", () => {
    expect(corsSettings([])).toBeUndefined();
    expect(corsSettings(["https://tickets.example"])).toMatchObject({ origin: ["https://tickets.example"], credentials: false });
  });
});
