import { configuredRate, etaSeconds, observedRate, rateWindowMs } from "../../modules/queue/queue-eta";
import type { QueueState } from "../../modules/queue/queue-store";
import { statusView } from "../../modules/queue/queue-view";

describe("admission rate and ETA", () => {
  it("configured rate is one batch per interval", () => {
    expect(configuredRate(100, 1000)).toBe(100);
    expect(configuredRate(3, 500)).toBe(6);
    expect(configuredRate(1, 4000)).toBe(0.25);
  });

  it("rate window is a minute, or ten intervals when those are longer", () => {
    expect(rateWindowMs(1000)).toBe(60_000);
    expect(rateWindowMs(10_000)).toBe(100_000);
  });

  it("observed rate counts each recorded round as one interval", () => {
    // Rounds at t=0,1000,...,9000 admitting 100 each; now = 9000 (right after the last one).
    expect(observedRate({ admitted: 1000, oldestRoundMs: 0 }, 9000, 1000)).toBe(100);
    // A single round just now: one batch per interval.
    expect(observedRate({ admitted: 50, oldestRoundMs: 5000 }, 5000, 1000)).toBe(50);
    // Half the rounds found the active set full: the rate halves.
    expect(observedRate({ admitted: 500, oldestRoundMs: 0 }, 9000, 1000)).toBe(50);
  });

  it("has no observed rate before anything was admitted", () => {
    expect(observedRate({ admitted: 0, oldestRoundMs: 100 }, 5000, 1000)).toBeNull();
    expect(observedRate({ admitted: 0, oldestRoundMs: null }, 5000, 1000)).toBeNull();
  });

  it("tolerates a round time slightly ahead of now", () => {
    expect(observedRate({ admitted: 10, oldestRoundMs: 5001 }, 5000, 1000)).toBe(10);
  });

  it("ETA rounds up to whole seconds and is 0 for the front", () => {
    expect(etaSeconds(1, 100)).toBe(1);
    expect(etaSeconds(100, 100)).toBe(1);
    expect(etaSeconds(101, 100)).toBe(2);
    expect(etaSeconds(1000, 0.5)).toBe(2000);
    expect(etaSeconds(0, 100)).toBe(0);
    expect(() => etaSeconds(5, 0)).toThrow(RangeError);
  });
});

describe("status view", () => {
  const rates = { admitIntervalMs: 1000, fallbackRate: 10 };
  const base: QueueState = { status: "WAITING", position: 25, expiresAtMs: null, nowMs: 10_000, window: { admitted: 0, oldestRoundMs: null } };

  it("WAITING uses the fallback rate until admissions were observed", () => {
    expect(statusView(base, rates)).toEqual({ status: "WAITING", position: 25, etaSeconds: 3, expiresAt: null });
  });

  it("WAITING uses the observed rate once there is one", () => {
    // 4 admitted over 2 rounds (span 1000 + 1000 ms): 2 per second -> 25 / 2 = 12.5 -> 13 s.
    const state = { ...base, window: { admitted: 4, oldestRoundMs: 9000 } };
    expect(statusView(state, rates)).toEqual({ status: "WAITING", position: 25, etaSeconds: 13, expiresAt: null });
  });

  it("ACTIVE is position 0 with its expiry", () => {
    const state: QueueState = { ...base, status: "ACTIVE", position: 0, expiresAtMs: Date.UTC(2030, 0, 1) };
    expect(statusView(state, rates)).toEqual({ status: "ACTIVE", position: 0, etaSeconds: 0, expiresAt: "2030-01-01T00:00:00.000Z" });
  });

  it("EXPIRED has no place", () => {
    const state: QueueState = { ...base, status: "EXPIRED", position: null };
    expect(statusView(state, rates)).toEqual({ status: "EXPIRED", position: null, etaSeconds: null, expiresAt: null });
  });
});
