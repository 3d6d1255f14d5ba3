import { shouldExpirePaidEntry } from "../../modules/queue/paid-entry";

describe("shouldExpirePaidEntry", () => {
  const ttlMs = 600_000;
  const now = Date.parse("2026-12-03T10:00:00.000Z");

  it("expires the payer's entry while the entry that paid could still be active", () => {
    expect(shouldExpirePaidEntry("2026-12-03T09:59:59.000Z", ttlMs, now)).toBe(true);
    expect(shouldExpirePaidEntry("2026-12-03T09:50:00.000Z", ttlMs, now)).toBe(true);
  });

  it("leaves a later entry alone once the paying entry has expired by itself (a late redelivery)", () => {
    expect(shouldExpirePaidEntry("2026-12-03T09:49:59.999Z", ttlMs, now)).toBe(false);
    expect(shouldExpirePaidEntry("2026-12-02T10:00:00.000Z", ttlMs, now)).toBe(false);
  });

  it("expires when the time is missing or unreadable (the safe side for a paid user)", () => {
    expect(shouldExpirePaidEntry(undefined, ttlMs, now)).toBe(true);
    expect(shouldExpirePaidEntry("yesterday", ttlMs, now)).toBe(true);
  });
});
