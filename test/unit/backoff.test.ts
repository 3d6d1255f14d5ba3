import { backoffDelayMs, verdictForStatus, type BackoffPolicy } from "../../modules/data-platform/retry-policy";

const policy: BackoffPolicy = { baseMs: 100, maxMs: 5000 };

describe("backoffDelayMs", () => {
  it("doubles per attempt between half and all of the exponential ceiling", () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, policy, () => 0))).toEqual([50, 100, 200, 400]);
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, policy, () => 0.999999))).toEqual([100, 200, 400, 800]);
    expect(backoffDelayMs(3, policy, () => 0.5)).toBe(300);
  });

  it("never exceeds maxMs, however many attempts failed", () => {
    for (const attempt of [7, 10, 30, 1000]) {
      expect(backoffDelayMs(attempt, policy, () => 0.999999)).toBe(5000);
      expect(backoffDelayMs(attempt, policy, () => 0)).toBe(2500);
    }
  });

  it("spreads retries of consumers that failed together (jitter)", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelayMs(5, policy)));
    expect(delays.size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThanOrEqual(1600);
    }
  });

  it("honours another growth factor", () => {
    expect(backoffDelayMs(3, { baseMs: 100, maxMs: 10_000, factor: 3 }, () => 0.999999)).toBe(900);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses attempt %p", (attempt) => {
    expect(() => backoffDelayMs(attempt, policy)).toThrow(RangeError);
  });
});

describe("verdictForStatus", () => {
  it.each([
    [200, "done"],
    [201, "done"],
    [204, "done"],
    [500, "retry"],
    [502, "retry"],
    [503, "retry"],
    [504, "retry"],
    [408, "retry"],
    [429, "retry"],
    [400, "reject"],
    [404, "reject"],
    [409, "reject"],
    [422, "reject"],
    [301, "reject"],
  ])("HTTP %i → %s", (status, verdict) => {
    expect(verdictForStatus(status)).toBe(verdict);
  });
});
