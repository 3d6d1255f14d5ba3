import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";

/** Decides, address by address from the socket outwards, whether a peer may speak for the client. */
export type TrustFn = (address: string, hop: number) => boolean;

const TRUST_NONE: TrustFn = () => false;

/**
 * TRUST_PROXY: "" / "false" / "0" — believe no X-Forwarded-For (the socket's peer is the client);
 * a hop count ("1": one proxy in front, e.g. the load balancer) — believe that many addresses from
 * the right; a comma list of addresses / CIDRs / proxy-addr names ("loopback", "10.0.0.0/8") —
 * believe a forwarded address only when every hop after it is in the list. Anything else throws,
 * so a typo fails the start instead of silently trusting everyone.
 */
export function parseTrustProxy(raw: string): TrustFn {
  const value = raw.trim();
  if (value === "" || /^(false|no|off|0)$/i.test(value)) return TRUST_NONE;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  if (/^(true|yes|on)$/i.test(value)) {
    throw new Error('Configuration: TRUST_PROXY=true would believe any client; give a hop count or a CIDR list');
  }
  try {
    return proxyAddr.compile(value.split(",").map((part) => part.trim()).filter(Boolean));
  } catch (err) {
    throw new Error(`Configuration: TRUST_PROXY must be a hop count or a list of addresses/CIDRs, got "${raw}" (${(err as Error).message})`);
  }
}

/** The client's address: the socket's peer unless trusted proxies forwarded it (IPv4-mapped IPv6 unwrapped). */
export function clientIp(req: IncomingMessage, trust: TrustFn): string {
  const address = trust === TRUST_NONE ? req.socket.remoteAddress : proxyAddr(req, trust);
  if (!address) return "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
