import { coresOverRuns, type CpuSnapshot, cpuDelta, cpuPer1000, medianCpuPer1000, statChildrenCpuSeconds, statComm, statCpuSeconds } from "../../bench/cpu";

// utime 250, stime 50 ticks; cutime 10, cstime 5; the command name has a space and a parenthesis.
const STAT = "2212 (redis-server (x)) S 1 2212 2212 0 -1 4194624 3000 0 0 0 250 50 10 5 20 0 5 0 1234 1000000 2000 18446744073709551615";

describe("/proc/<pid>/stat fields", () => {
  it("reads CPU seconds after the command name, whatever it holds", () => {
    expect(statComm(STAT)).toBe("redis-server (x)");
    expect(statCpuSeconds(STAT)).toBeCloseTo(3.0);
    expect(statChildrenCpuSeconds(STAT)).toBeCloseTo(0.15);
  });
});

describe("CPU split arithmetic", () => {
  it("subtracts per process, sums a group's processes and counts a new one from zero", () => {
    const before = { system: 10, redis: 2, "postgres#1": 5, "postgres#2": 1, gone: 3 };
    const after = { system: 12.5, redis: 2.25, "postgres#1": 5.5, "postgres#2": 1.25, "postgres#9": 0.1, fresh: 4 };
    expect(cpuDelta(before, after)).toEqual({ system: 2.5, redis: 0.25, postgres: expect.closeTo(0.85) });
  });

  it("gives CPU seconds per 1,000 requests, nothing for a run without answers", () => {
    expect(cpuPer1000({ system: 2.5, redis: 0.25 }, 10_000)).toEqual({ system: 0.25, redis: 0.025 });
    expect(cpuPer1000({ system: 2.5 }, 0)).toEqual({});
  });

  it("takes the median per process over the runs and the cores over their whole time", () => {
    const runs: Array<{ requests: number; durationS: number; cpuS?: CpuSnapshot }> = [
      { requests: 1000, durationS: 1, cpuS: { system: 0.3, generator: 0.05 } },
      { requests: 2000, durationS: 2, cpuS: { system: 0.4 } },
      { requests: 1000, durationS: 1, cpuS: { system: 0.1, generator: 0.07 } },
      { requests: 0, durationS: Number.NaN },
    ];
    expect(medianCpuPer1000(runs)).toEqual({ system: 0.2, generator: expect.closeTo(0.06) });
    expect(coresOverRuns(runs)).toEqual({ system: expect.closeTo(0.2), generator: expect.closeTo(0.03) });
    expect(coresOverRuns([])).toEqual({});
  });
});
