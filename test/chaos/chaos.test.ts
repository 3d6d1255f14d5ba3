/**
 * The chaos suite's short form (CI): private PostgreSQL, Redis, NATS, Kafka and data-platform stand-in,
 * a gateway and two workers from dist/ (`npm test` builds first), bounded buyer load, and one fault
 * per test. Every fault: no invariant of SPEC §2/§9 broken and no 500 at any time. Plus SPEC §11's
 * budgets for a worker kill -9 and for Redis/PostgreSQL going away.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { checkInvariants } from "../../chaos/invariants";
import { chaosOptions, type FaultId } from "../../chaos/options";
import { ChaosSuite } from "../../chaos/suite";
import { formatDetails, formatTable, saveResults } from "../../chaos/table";
import type { FaultResult } from "../../chaos/types";
import { corruptEverything } from "./corrupt";

const options = chaosOptions("short");
const results: FaultResult[] = [];
let suite: ChaosSuite | undefined;

const failed = (list: FaultResult["invariants"]) => list.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail}`);

async function fault(id: FaultId): Promise<FaultResult> {
  if (!suite) throw new Error("the chaos suite did not start");
  const result = await suite.runFault(id);
  results.push(result);
  expect(failed(result.invariants)).toEqual([]);
  expect(result.metrics.count500).toBe(0);
  // Fault-specific checks: every fault's "serves again", plus SPEC §11's for the kill and Redis/PostgreSQL.
  expect(failed(result.checks)).toEqual([]);
  return result;
}

beforeAll(async () => {
  if (!existsSync(path.resolve(__dirname, "../../dist/services"))) throw new Error("dist/ is missing: run `npm run build` first");
  suite = new ChaosSuite(options);
  await suite.setup();
}, 240_000);

afterAll(async () => {
  await suite?.teardown();
  if (results.length) {
    process.stdout.write(`${formatTable(results)}\n${formatDetails(results)}\nresults: ${saveResults(results, options, "short")}\n`);
  }
}, 120_000);

const budget = (ms: number) => ms + options.settleMs + 120_000;

describe("chaos (short form)", () => {
  it("kill -9 of one of two workers: dropped within 5 s, ≤ 5% failures in 15 s, none from 10 s on", async () => {
    const result = await fault("worker-kill");
    expect(result.checks.map((c) => c.name)).toContain("§11 killed node dropped by the gateway within 5 s");
  }, budget(options.killObserveMs));

  it("Kafka stopped: nothing lost, every payment on the topic and applied once", async () => {
    await fault("kafka");
  }, budget(options.kafkaDownMs + 60_000));

  it("Redis restarted empty: only successes or 503 SERVICE_UNAVAILABLE + Retry-After, rankings rebuilt", async () => {
    const result = await fault("redis");
    expect(result.checks.map((c) => c.name)).toContain("§11 no driver text in any body");
  }, budget(options.redisDownMs));

  it("NATS restarted: the cluster serves again, nothing lost", async () => {
    await fault("nats");
  }, budget(options.natsDownMs));

  it("PostgreSQL restarted: only successes or 503 SERVICE_UNAVAILABLE + Retry-After, no driver text", async () => {
    const result = await fault("postgres");
    expect(result.checks.map((c) => c.name)).toContain("§11 no driver text in any body");
  }, budget(options.postgresDownMs));

  it("data platform 50% failing then down past the old retry budget: every payment applied once, none in the DLQ", async () => {
    await fault("standin");
  }, budget(options.standinFailMs + options.standinDownMs));

  // Last: it stops the cluster and breaks the data. Shows that no check above is always true.
  it("the invariant checks catch each kind of violation", async () => {
    if (!suite) throw new Error("the chaos suite did not start");
    await suite.cluster?.stop();
    const sources = suite.invariantSources();
    await corruptEverything(sources);
    const after = await checkInvariants(sources, 2000);
    expect(after.length).toBeGreaterThanOrEqual(9);
    expect(after.filter((i) => i.ok).map((i) => i.name)).toEqual([]);
  }, 120_000);
});
