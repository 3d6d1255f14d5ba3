/**
 * `npm run bench`: starts the system (one process, then gateway + worker over NATS), the
 * data-platform stand-in and the bare baseline server as child processes, checks the generator
 * against a constant 200, measures the scenarios of issues 8 and 14 against the system with wrk
 * (autocannon as the fallback), reports CPU seconds per 1,000 requests per process, checks SPEC's
 * invariants after each scenario and writes bench/results/<timestamp>-<mode>.json. See USAGE in
 * bench/cli-args.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { getConfig } from "../lib/config";
import { parseArgs, USAGE, type CliArgs } from "./cli-args";
import { coresOverRuns, CpuProbe, medianCpuPer1000 } from "./cpu";
import { awaitDelivery } from "./delivery";
import { createBenchConcert, dropDatabase, freshDatabase, mintUsers, warmPaymentPipeline, type BenchUser } from "./fixtures";
import { JsonClient } from "./http-client";
import { checkInvariants } from "./invariants";
import { createLoader } from "./load";
import { freePort, ProcessMonitor, type BenchProcess, type MonitorReport } from "./processes";
import {
  evaluateTargets,
  formatCpuTable,
  formatGeneratorCheck,
  formatScenario,
  formatSummary,
  generatorCheck,
  type GeneratorCheck,
  type ScenarioResult,
  type TargetSpec,
} from "./report";
import type { ScenarioContext } from "./scenario";
import { SCENARIOS, baselineEntry, calibration } from "./scenarios";
import { medianOfRuns, type RunMetrics } from "./stats";
import { ensureWrk } from "./wrk";
import { deleteKeys } from "./redis-keys";
import { benchEnv, ROOT, startBaseline, startStandin, startSystem, waitReady, type Mode } from "./system";

const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);

const RSS_TARGET: TargetSpec = { label: "RSS < 250 MB per node", metric: "maxRssMb", op: "<", value: 250 };

interface ResultOf {
  id: string;
  title: string;
  ratioTo?: string;
}

function scenarioResult(mode: Mode, generator: string, of: ResultOf, runs: RunMetrics[], monitor: MonitorReport, rssOf: string[]): ScenarioResult {
  const median = medianOfRuns(runs);
  const peakRssMb = Object.fromEntries(Object.entries(monitor.peakRssMb).filter(([name]) => rssOf.includes(name)));
  return {
    mode,
    scenario: of.id,
    title: of.title,
    median,
    // The median of the runs' ratios to their paired bare-server runs.
    ratio: of.ratioTo ? (median.extra.pairedRatio ?? null) : null,
    ratioTo: of.ratioTo,
    generator,
    peakRssMb,
    cpuCores: coresOverRuns(runs),
    cpuPer1000: medianCpuPer1000(runs),
    invariants: [],
    targets: [],
    runs,
  };
}

/** Deletes the run's Kafka topics (payment.completed and its DLQ); they were the run's alone. */
async function deleteTopics(topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: "bench-cleanup", brokers: getConfig().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}

interface ModeOutcome {
  results: ScenarioResult[];
  check: GeneratorCheck | null;
}

async function runMode(mode: Mode, args: CliArgs, runId: string, users: BenchUser[]): Promise<ModeOutcome> {
  const env = benchEnv(runId, mode, getConfig().databaseUrl, await freePort());
  log(`[${mode}] database ${new URL(env.databaseUrl).pathname.slice(1)}, Redis prefix ${env.redisPrefix}`);
  const orm = await freshDatabase(env.databaseUrl);
  const redis = new Redis(getConfig().redisUrl);
  const processes: BenchProcess[] = [];
  const results: ScenarioResult[] = [];
  let check: GeneratorCheck | null = null;
  const profileDir = args.profileDir ? path.resolve(args.profileDir, `${runId}-${mode}`) : null;
  const nodeArgs = [...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []), ...args.nodeArgs];
  try {
    const probe = await createBenchConcert(orm, "Bench probe", 1, 1);
    const standin = await startStandin(env, { echo: args.verbose });
    processes.push(standin);
    const system = await startSystem(env, { nodeArgs, echo: args.verbose });
    processes.push(...system.nodes);
    const baseline = await startBaseline(env, { nodeArgs: profileDir ? nodeArgs.slice(0, 3) : [], echo: args.verbose });
    processes.push(baseline.process);
    await waitReady(system, users[users.length - 1].authorization, probe.concertId);
    log(`[${mode}] ${system.nodes.map((n) => `${n.name} pid ${n.pid}`).join(", ")} ready at ${system.apiUrl}`);

    const client = new JsonClient(system.apiUrl, 64);
    const standinUrl = `http://127.0.0.1:${env.standinPort}`;
    const warm = await warmPaymentPipeline(client, users[users.length - 1], probe);
    const warmDelivery = await awaitDelivery(standinUrl, [warm], 120_000);
    if (warmDelivery.missing) throw new Error("the warm-up payment never reached the data-platform stand-in");
    log(`[${mode}] payment pipeline warm: first payment reached the stand-in after ${warmDelivery.latenciesMs[0]} ms`);
    let tag = 0;
    const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]);
    const external = Number.isInteger(redisPid) && redisPid > 0 ? [{ name: "redis", pid: redisPid }] : [];
    const cpu = new CpuProbe(() => [...processes.map((p) => ({ name: p.name, pid: p.pid })), ...external]);
    const generator = args.options.generator;
    const ctx: ScenarioContext = {
      mode,
      env,
      options: args.options,
      apiUrl: system.apiUrl,
      baselineUrl: baseline.url,
      standinUrl,
      client,
      orm,
      redis,
      users,
      load: createLoader({ generator, connections: args.options.connections, threads: args.options.threads, cpu }),
      cpu,
      baselinePrefix: `${env.redisPrefix}baseline:`,
      nextTag: () => ++tag,
      log,
    };
    const systemMonitor = new ProcessMonitor(() => [...system.nodes, standin]);
    const baselineMonitor = new ProcessMonitor(() => [baseline.process]);
    const nodeNames = system.nodes.map((n) => n.name);

    log(`[${mode}] calibration: ${generator} against a constant 200 (node:http, no work)`);
    baselineMonitor.start();
    const calibrationRuns = await calibration(ctx);
    const calibrationResult = scenarioResult(mode, generator, { id: "calibration", title: `${generator} → node:http constant 200` }, calibrationRuns, baselineMonitor.stop(), ["baseline"]);
    results.push(calibrationResult);
    console.log(formatScenario(calibrationResult));

    log(`[${mode}] baseline: bare node:http + ioredis queue entry`);
    baselineMonitor.start();
    const baselineRuns = await baselineEntry(ctx);
    const baselineResult = scenarioResult(mode, generator, { id: "baseline", title: "bare node:http + ioredis, queue entry work" }, baselineRuns, baselineMonitor.stop(), ["baseline"]);
    results.push(baselineResult);
    console.log(formatScenario(baselineResult));
    check = generatorCheck(calibrationResult, baselineResult);
    console.log(formatGeneratorCheck(check));

    for (const scenario of SCENARIOS.filter((s) => args.scenarios.includes(s.id))) {
      log(`[${mode}] scenario ${scenario.number} ${scenario.id}`);
      systemMonitor.start();
      const from = performance.now();
      const outcome = await scenario.run(ctx);
      if (profileDir) {
        const window = (n: BenchProcess) => `${((from - n.spawnedAt) / 1000).toFixed(1)}-${((performance.now() - n.spawnedAt) / 1000).toFixed(1)}`;
        log(`[${mode}] profile window of ${scenario.id}: ${system.nodes.map((n) => `${n.name} (pid ${n.pid}) ${window(n)} s`).join(", ")}`);
      }
      const result = scenarioResult(mode, scenario.id === "journey" ? "node:http (this process)" : generator, scenario, outcome.runs, systemMonitor.stop(), nodeNames);
      result.targets = evaluateTargets(result, [...scenario.targets, RSS_TARGET]);
      result.invariants = [...outcome.invariants, ...(await checkInvariants({ orm, redis, redisPrefix: env.redisPrefix, standinUrl: ctx.standinUrl }))];
      results.push(result);
      console.log(formatScenario(result));
    }
    client.close();
    return { results, check };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    if (!args.keep) {
      await deleteKeys(redis, env.redisPrefix).catch((err) => log(`Redis cleanup failed: ${err}`));
      await deleteTopics([env.topic, env.dlqTopic]).catch((err) => log(`Kafka topic cleanup failed: ${err}`));
      await orm.close(true);
      await dropDatabase(env.databaseUrl).catch((err) => log(`dropping the database failed: ${err}`));
    } else {
      await orm.close(true);
    }
    redis.disconnect();
    if (profileDir) log(`[${mode}] CPU profiles in ${profileDir} (summary: node dist/bench/profile-summary.js <file>)`);
  }
}

function writeResults(mode: Mode, stamp: string, args: CliArgs, { results, check }: ModeOutcome): string {
  const dir = path.join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${stamp}-${mode}.json`);
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    // Other work on the machine during the run shows here (the paired ratios are meant to cancel it).
    loadAverageAtEnd: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
  const cli = process.argv.slice(2).join(" ");
  const command = cli ? `npm run bench -- ${cli}` : "npm run bench";
  const round = (_key: string, value: unknown) => (typeof value === "number" && !Number.isInteger(value) ? Math.round(value * 100) / 100 : value);
  const body = { command, mode, startedAt: new Date(started).toISOString(), machine, options: args.options, generatorCheck: check, results };
  writeFileSync(file, `${JSON.stringify(body, round, 2)}\n`);
  return path.relative(ROOT, file);
}

async function main(): Promise<void> {
  // `npm run bench -- stream …`: the waiting room's figures (bench/stream-measure.ts, in-process, no system children).
  if (process.argv[2] === "stream") {
    require("./stream-measure"); // eslint-disable-line @typescript-eslint/no-require-imports
    return;
  }
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2), SCENARIOS.map((s) => s.id));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const stamp = new Date(started).toISOString().replace(/[-:]/g, "").replace(/\..+$/, "");
  const runId = stamp.slice(2).replace("T", "").toLowerCase();
  // Enough distinct users for queue entry at ~15k req/s; the secret is the run's, shared by both modes.
  const poolSize = Math.min(100_000, Math.max(3000, 15_000 * args.options.durationS));
  log(`minting ${poolSize} access tokens; modes ${args.modes.join(", ")}; scenarios ${args.scenarios.join(", ")}`);
  const users = mintUsers("u", poolSize, benchEnv(runId, "single", getConfig().databaseUrl, 0).authSecret);
  if (args.options.generator === "wrk" && !ensureWrk(log)) {
    log("wrk could not be installed: falling back to autocannon (in this process, on the same cores)");
    args.options.generator = "autocannon";
  }
  const all: ScenarioResult[] = [];
  const checks: GeneratorCheck[] = [];
  for (const mode of args.modes) {
    const outcome = await runMode(mode, args, runId, users);
    all.push(...outcome.results);
    if (outcome.check) checks.push(outcome.check);
    log(`[${mode}] results written to ${writeResults(mode, stamp, args, outcome)}`);
  }
  console.log(`\n${formatSummary(all)}\n`);
  console.log(`CPU seconds per 1,000 requests:\n${formatCpuTable(all)}\n`);
  for (const check of checks) console.log(formatGeneratorCheck(check));
  const failed = all.flatMap((r) => r.invariants.filter((i) => !i.pass).map((i) => `${r.mode}/${r.scenario}: ${i.name}`));
  if (failed.length) console.log(`INVARIANTS FAILED:\n  ${failed.join("\n  ")}`);
  log("done");
  process.exit(failed.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
