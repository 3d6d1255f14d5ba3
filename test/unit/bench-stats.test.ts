import { median, medianOfRuns, percentile, ratio, summarizeLatencies, sumCounts, type RunMetrics } from "../../bench/stats";

function run(rps: number, p99: number, errors: Record<string, number> = {}, extra: Record<string, number> = {}): RunMetrics {
  return { requests: rps * 5, durationS: 5, rps, latency: { count: 10, p50: p99 / 4, p95: p99 / 2, p99, max: p99 * 2 }, errors, extra };
}

describe("percentile (nearest rank)", () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);

  it("picks the value at rank ceil(p/100 × n)", () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([7, 9, 30], 50)).toBe(9);
  });

  it("is NaN for no values and refuses p outside 0..100", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(hundred, 101)).toThrow(RangeError);
    expect(() => percentile(hundred, -1)).toThrow(RangeError);
  });
});

describe("summarizeLatencies", () => {
  it("sorts numerically (not as strings) before taking percentiles", () => {
    const values = [100, 9, 20, 3, 1000, 50, 2, 8, 7, 6];
    expect(summarizeLatencies(values)).toEqual({ count: 10, p50: 8, p95: 1000, p99: 1000, max: 1000 });
  });

  it("gives a 1 % tail its own p99 on 1,000 values", () => {
    const values = [...Array.from({ length: 990 }, () => 5), ...Array.from({ length: 10 }, () => 300)];
    const summary = summarizeLatencies(values);
    expect(summary.p95).toBe(5);
    expect(summary.p99).toBe(5);
    expect(summarizeLatencies([...values, 300]).p99).toBe(300);
  });
});

describe("median", () => {
  it("takes the middle value, or the mean of the middle two", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10])).toBe(10);
    expect(median([])).toBeNaN();
    expect(median([Number.NaN, 5, 7, 9])).toBe(7);
  });
});

describe("ratio", () => {
  it("divides by the baseline and has no value without one", () => {
    expect(ratio(600, 1000)).toBeCloseTo(0.6);
    expect(ratio(600, 0)).toBeNull();
    expect(ratio(600, Number.NaN)).toBeNull();
    expect(ratio(Number.NaN, 1000)).toBeNull();
  });
});

describe("medianOfRuns", () => {
  it("takes each figure's median separately and sums the error counts", () => {
    const m = medianOfRuns([
      run(1000, 40, { "409 SEAT_UNAVAILABLE": 2 }, { winners: 50 }),
      run(3000, 10, {}, { winners: 49 }),
      run(2000, 90, { "409 SEAT_UNAVAILABLE": 1, "socket ECONNRESET": 1 }, { winners: 50 }),
    ]);
    expect(m.runs).toBe(3);
    expect(m.rps).toBe(2000);
    expect(m.p99).toBe(40);
    expect(m.errors).toEqual({ "409 SEAT_UNAVAILABLE": 3, "socket ECONNRESET": 1 });
    expect(m.extra).toEqual({ winners: 50 });
  });

  it("uses only the runs that have an extra figure", () => {
    const m = medianOfRuns([run(1, 1, {}, { a: 4 }), run(1, 1, {}, {}), run(1, 1, {}, { a: 8 })]);
    expect(m.extra.a).toBe(6);
  });

  it("sumCounts adds keys across runs", () => {
    expect(sumCounts([{ a: 1 }, { a: 2, b: 1 }, {}])).toEqual({ a: 3, b: 1 });
  });
});
