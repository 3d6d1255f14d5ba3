import { parseArgs } from "../../bench/cli-args";
import {
  evaluateTargets,
  formatCpuPer1000,
  formatCpuTable,
  formatErrors,
  formatGeneratorCheck,
  formatScenario,
  formatSummary,
  formatTable,
  generatorCheck,
  invariantsVerdict,
  type ScenarioResult,
} from "../../bench/report";
import { medianOfRuns, type RunMetrics } from "../../bench/stats";

const IDS = ["queue-entry", "queue-status", "seat-map", "contention", "holds", "hold-pay", "journey"];

function result(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  const runs: RunMetrics[] = [
    { requests: 100, durationS: 1, rps: 3000, latency: { count: 100, p50: 4, p95: 12, p99: 30, max: 40 }, errors: { "409 SEAT_UNAVAILABLE": 1950 }, extra: { winners: 50 } },
  ];
  return {
    mode: "single",
    scenario: "contention",
    title: "race",
    median: medianOfRuns(runs),
    ratio: 0.5,
    ratioTo: "bare Redis GET",
    generator: "wrk",
    peakRssMb: { system: 180 },
    cpuCores: { generator: 0.5, system: 1.25, redis: 0.001 },
    cpuPer1000: { generator: 0.02, postgres: 0.0004, redis: 0.031, system: 0.18 },
    invariants: [{ name: "no double sale", pass: true, detail: "" }],
    targets: [],
    runs,
    ...overrides,
  };
}

describe("evaluateTargets", () => {
  it("compares ratio, latency, extra figures and peak RSS with the issue's targets", () => {
    const outcomes = evaluateTargets(result({ peakRssMb: { gateway: 120, worker: 310 } }), [
      { label: "≥ 60% of baseline", metric: "ratio", op: ">=", value: 0.6 },
      { label: "p99 < 50 ms", metric: "p99", op: "<", value: 50 },
      { label: "exactly 50 winners", metric: "extra.winners", op: "==", value: 50 },
      { label: "RSS < 300 MB", metric: "maxRssMb", op: "<", value: 300 },
    ]);
    expect(outcomes.map((o) => [o.actual, o.met])).toEqual([
      [0.5, false],
      [30, true],
      [50, true],
      [310, false],
    ]);
  });

  it("counts a missing figure as missed, never as met", () => {
    const [outcome] = evaluateTargets(result({ ratio: null }), [{ label: "ratio", metric: "ratio", op: ">=", value: 0 }]);
    expect(outcome).toMatchObject({ actual: null, met: false });
    const [absent] = evaluateTargets(result(), [{ label: "x", metric: "extra.dpP99Ms", op: "<", value: 2000 }]);
    expect(absent.met).toBe(false);
    expect(() => evaluateTargets(result(), [{ label: "?", metric: "bogus", op: "<", value: 1 }])).toThrow(/Unknown metric/);
  });
});

describe("formatting", () => {
  it("lists errors largest first, or none", () => {
    expect(formatErrors({})).toBe("none");
    expect(formatErrors({ "socket ECONNRESET": 2, "409 SEAT_UNAVAILABLE": 1950, "503": 0 })).toBe("409 SEAT_UNAVAILABLE ×1950, socket ECONNRESET ×2");
  });

  it("gives a PASS/FAIL verdict over the invariants", () => {
    expect(invariantsVerdict([{ name: "a", pass: true, detail: "" }, { name: "b", pass: true, detail: "" }])).toBe("PASS 2/2");
    expect(invariantsVerdict([{ name: "a", pass: true, detail: "" }, { name: "b", pass: false, detail: "x" }])).toBe("FAIL 1/2");
    expect(invariantsVerdict([])).toBe("-");
  });

  it("prints a scenario with its figures, targets and each invariant", () => {
    const text = formatScenario(
      result({
        targets: [{ label: "p99 < 250 ms", metric: "p99", op: "<", value: 250, actual: 30, met: true }],
        invariants: [{ name: "exactly 50 winners", pass: false, detail: "49 winners" }],
      }),
    );
    expect(text).toContain("req/s 3,000 (median of 1, wrk)");
    expect(text).toContain("p99 30 ms");
    expect(text).toContain("ratio to bare Redis GET 0.50");
    expect(text).toContain("409 SEAT_UNAVAILABLE ×1950");
    expect(text).toContain("peak RSS: system 180 MB");
    // Nodes first, then Redis, PostgreSQL, the generator; negligible figures left out.
    expect(text).toContain("CPU s per 1,000 requests: system 0.180, redis 0.031, generator 0.020");
    expect(text).toContain("cores during the runs: system 1.25, generator 0.50 ");
    expect(text).toContain("winners 50");
    expect(text).toContain("target p99 < 250 ms: met");
    expect(text).toContain("FAIL exactly 50 winners: 49 winners");
    expect(formatScenario(result({ ratio: null }))).not.toContain("ratio to");
  });

  it("tabulates CPU seconds per 1,000 requests by scenario and process", () => {
    expect(formatCpuPer1000({})).toBe("-");
    const table = formatCpuTable([result(), result({ scenario: "holds", cpuPer1000: { system: 2.95, postgres: 1.63, standin: 0.001 } })]);
    const [header, , first, second] = table.split("\n");
    // Servers as found, then Redis, PostgreSQL, the generator.
    expect(header.split(/\s+/)).toEqual(["mode", "scenario", "system", "standin", "redis", "postgres", "generator"]);
    expect(first.split(/\s+/)).toEqual(["single", "contention", "0.180", "-", "0.031", "0.000", "0.020"]);
    expect(second.split(/\s+/)).toEqual(["single", "holds", "2.950", "0.001", "-", "1.630", "-"]);
  });


  it("prints small fractional extras with two decimals", () => {
    const runs: RunMetrics[] = [{ ...result().runs[0], extra: { pairedRatio: 0.6412, journeyP99Ms: 7996.14 } }];
    const text = formatScenario(result({ median: medianOfRuns(runs), runs }));
    expect(text).toContain("pairedRatio 0.64");
    expect(text).toContain("journeyP99Ms 7,996.1");
  });

  it("aligns table columns and summarises each scenario in one row", () => {
    expect(formatTable([["a", "bb"], ["ccc", "d"]])).toBe("a    bb\n---  --\nccc  d");
    const summary = formatSummary([result({ targets: [{ label: "t", metric: "p99", op: "<", value: 1, actual: 30, met: false }] })]);
    const row = summary.split("\n")[2];
    expect(summary.split("\n")[0]).toContain("ratio");
    expect(row).toMatch(/^single\s+contention\s+3,000\s+4\.0 ms\s+12 ms\s+30 ms\s+0\.50\s+180 MB\s+1,950\s+PASS 1\/1\s+1 missed$/);
  });
});

describe("generatorCheck", () => {
  const calibration = result({ scenario: "calibration", median: { ...result().median, rps: 43_000 } });

  it("says the generator is not the limit when it reaches well above the baseline", () => {
    const baseline = result({ scenario: "baseline", median: { ...result().median, rps: 10_750 }, cpuCores: { baseline: 1, redis: 0.4, postgres: 0.1, generator: 0.5 } });
    const check = generatorCheck(calibration, baseline);
    expect(check).toMatchObject({ generator: "wrk", calibrationRps: 43_000, baselineRps: 10_750, headroom: 4, generatorCoresAtBaseline: 0.5, ok: true });
    expect(check.generatorShareAtBaseline).toBeCloseTo(0.25);
    expect(formatGeneratorCheck(check)).toBe(
      "generator check: wrk reaches 43,000 req/s against a constant-200 node:http server, 4.00× the baseline's 10,750 req/s; " +
        "during the baseline it used 0.50 cores (25% of the measured CPU). The baseline's rate is the bare server's: the generator is not the limit.",
    );
  });

  it("warns when the baseline comes close to the generator's ceiling", () => {
    const baseline = result({ scenario: "baseline", median: { ...result().median, rps: 40_000 }, cpuCores: {} });
    const check = generatorCheck(calibration, baseline);
    expect(check.ok).toBe(false);
    expect(check.generatorCoresAtBaseline).toBeNull();
    expect(formatGeneratorCheck(check)).toContain("The generator may be what limits the baseline.");
  });
});

describe("parseArgs", () => {
  it("defaults to every scenario in both modes, 3 runs of 5 s on 100 connections", () => {
    const args = parseArgs([], IDS);
    expect(args.modes).toEqual(["single", "split"]);
    expect(args.scenarios).toEqual(IDS);
    expect(args.options).toEqual({ connections: 100, durationS: 5, runs: 3, warmupS: 2, generator: "wrk", threads: 2 });
    expect(args.profileDir).toBeNull();
  });

  it("takes scenarios by number or id, in canonical order, once each", () => {
    const args = parseArgs(["journey", "4", "--mode", "single", "--runs", "1", "contention", "--profile"], IDS);
    expect(args.scenarios).toEqual(["contention", "journey"]);
    expect(args.modes).toEqual(["single"]);
    expect(args.options.runs).toBe(1);
    expect(args.profileDir).toBe("/tmp/bench-profiles");
    expect(parseArgs(["--profile", "/tmp/p", "1"], IDS)).toMatchObject({ profileDir: "/tmp/p", scenarios: ["queue-entry"] });
    expect(parseArgs(["--node-arg=--trace-gc", "--node-arg", "--max-semi-space-size=32"], IDS).nodeArgs).toEqual(["--trace-gc", "--max-semi-space-size=32"]);
    expect(() => parseArgs(["--node-arg", "trace-gc"], IDS)).toThrow(/Node flag/);
    expect(parseArgs(["--generator", "autocannon", "--threads", "4", "5", "6"], IDS)).toMatchObject({
      options: { generator: "autocannon", threads: 4 },
      scenarios: ["holds", "hold-pay"],
    });
  });

  it("refuses unknown scenarios, options and bad numbers", () => {
    expect(() => parseArgs(["8"], IDS)).toThrow(/unknown scenario/);
    expect(() => parseArgs(["--generator", "ab"], IDS)).toThrow(/--generator/);
    expect(() => parseArgs(["--fast"], IDS)).toThrow(/unknown option/);
    expect(() => parseArgs(["--runs", "0"], IDS)).toThrow(/positive integer/);
    expect(() => parseArgs(["--mode", "cluster"], IDS)).toThrow(/--mode/);
  });
});
