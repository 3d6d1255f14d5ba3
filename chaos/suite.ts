/**
 * The chaos suite's lifecycle: private infrastructure and a 3-node cluster started once, then one
 * fault at a time — baseline, fault, recovery under bounded load — each followed by SPEC's invariant
 * checks. Used by chaos/run.ts (`npm run chaos`) and test/chaos/*.test.ts (CI's short form).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { initOrm } from "../lib/db/orm";
import { freePort } from "../lib/net";
import { createConcert, createSchedule } from "../modules/catalog/catalog-writes";
import { Cluster } from "./cluster";
import { FAULTS, type LaterChecks } from "./faults";
import { RecordingClient } from "./http";
import { startInfra, stopInfra, type Infra } from "./infra";
import { checkInvariants, type InvariantSources } from "./invariants";
import { Load } from "./load";
import { check, dependencyChecks, faultMetrics, timeline } from "./metrics";
import { NODE_REQUEST_TIMEOUT_MS, type ChaosOptions, type FaultId } from "./options";
import { installExitHooks, killEverything, projectRoot, sleep } from "./procs";
import { StandIn } from "./standin";
import type { FaultResult, FaultWindow } from "./types";

export const REDIS_PREFIX = "chaos:";
const STANDIN_DATABASE = "chaos_standin";
const SEATS_PER_SCHEDULE = 100;

export class ChaosSuite {
  readonly epoch = Date.now();
  readonly dir = mkdtempSync(path.join(tmpdir(), "chaos-"));
  infra?: Infra;
  cluster?: Cluster;
  standin?: StandIn;
  private client?: RecordingClient;
  private faultCount = 0;

  constructor(
    readonly options: ChaosOptions,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`[chaos] ${line}\n`),
  ) {}

  private get databaseUrl(): string {
    return this.infra!.postgres.url("concert_chaos");
  }

  async setup(): Promise<void> {
    installExitHooks();
    const started = Date.now();
    this.infra = await startInfra(this.dir, process.env.CHAOS_KAFKA_LIBS_DIR ?? path.join(projectRoot(), ".infra/kafka/libs"));
    this.log(`private infra up in ${Date.now() - started} ms under ${this.dir}`);
    this.standin = new StandIn(await freePort(), this.infra.postgres.url(STANDIN_DATABASE), this.dir);
    await this.standin.start();
    const o = this.options;
    this.cluster = new Cluster({
      databaseUrl: this.databaseUrl,
      redisUrl: this.infra.redis.url,
      transporter: this.infra.nats.url,
      kafkaBrokers: this.infra.kafka.brokers,
      dataPlatformUrl: this.standin.url,
      redisPrefix: REDIS_PREFIX,
      logDir: this.dir,
      extra: {
        DB_POOL_MAX: "5",
        REQUEST_TIMEOUT_MS: String(NODE_REQUEST_TIMEOUT_MS),
        QUEUE_ADMIT_INTERVAL_MS: "200",
        QUEUE_ADMIT_BATCH: "200",
        QUEUE_ACTIVE_MAX: "5000",
        RESERVATION_HOLD_S: String(o.holdS),
        RESERVATION_SWEEP_S: "2",
        OUTBOX_RELAY_INTERVAL_MS: "500",
        OUTBOX_RELAY_DELAY_MS: "1000",
        DATA_PLATFORM_TIMEOUT_MS: "2000",
        DATA_PLATFORM_RETRY_BASE_MS: String(o.retryBaseMs),
        DATA_PLATFORM_RETRY_MAX_MS: String(o.retryMaxMs),
        DATA_PLATFORM_MAX_ATTEMPTS: String(o.maxAttempts),
      },
    });
    await this.cluster.start();
    this.client = new RecordingClient(() => this.cluster!.apiUrl, this.epoch, o.requestTimeoutMs);
    this.log(`cluster serving ${Date.now() - started} ms after start`);
  }

  private now = () => Date.now() - this.epoch;

  /** A fresh concert per fault, with seats for about twice the journeys of its run. */
  private async concert(title: string, expectedJourneys: number): Promise<{ concertId: number; schedules: Array<{ id: number }> }> {
    const orm = await initOrm(this.databaseUrl, 1);
    try {
      const em = orm.em.fork();
      const concertId = await createConcert(em, title, "Chaos Hall");
      const count = Math.ceil((2 * expectedJourneys) / SEATS_PER_SCHEDULE) + 1;
      const schedules = [];
      for (let i = 0; i < count; i++) schedules.push({ id: await createSchedule(em, concertId, new Date(Date.now() + (10 + i) * 86_400_000), SEATS_PER_SCHEDULE) });
      return { concertId, schedules };
    } finally {
      await orm.close(true);
    }
  }

  async runFault(id: FaultId): Promise<FaultResult> {
    const fault = FAULTS[id];
    const o = this.options;
    const index = ++this.faultCount;
    const notes: string[] = [];
    const expected = (o.baselineMs + o.recoveryMs + 60_000) / o.arrivalMs;
    const { concertId, schedules } = await this.concert(`Chaos ${index} ${id}`, expected);
    const load = new Load(this.client!, {
      concertId,
      schedules,
      arrivalMs: o.arrivalMs,
      maxInFlight: o.maxInFlight,
      userPrefix: `c${this.epoch.toString(36)}-${index}-`,
      pollMs: o.pollMs,
      journeyDeadlineMs: o.journeyDeadlineMs,
    });
    this.log(`${id}: baseline ${o.baselineMs} ms`);
    const window: FaultWindow = { baselineStart: this.now(), faultStart: 0, faultEnd: 0, recoveryEnd: 0 };
    load.start();
    await sleep(o.baselineMs);
    window.faultStart = this.now();
    this.log(`${id}: ${fault.title}`);
    let later: LaterChecks = () => [];
    try {
      later = await fault.inject({ infra: this.infra!, cluster: this.cluster!, standin: this.standin!, options: o, now: this.now, note: (n) => (notes.push(n), this.log(`${id}: ${n}`)) });
    } finally {
      window.faultEnd = this.now();
      this.log(`${id}: fault over, recovery ${o.recoveryMs} ms`);
      await sleep(o.recoveryMs);
      await load.stop();
      window.recoveryEnd = this.now();
    }
    const records = this.client!.records;
    const metrics = faultMetrics(records, window);
    const checks = [...later(records), ...(fault.dependency ? dependencyChecks(metrics, o.recoveryBudgetS) : [])];
    if (Object.keys(load.reasons).length) notes.push(`abandoned journeys: ${JSON.stringify(load.reasons)}`);
    this.log(`${id}: checking invariants (up to ${o.settleMs} ms)`);
    const invariants = await checkInvariants(this.invariantSources(), o.settleMs);
    // The next fault starts from a serving cluster; one that stays broken fails this fault's check.
    const ready = await this.cluster!.waitReady(o.readyMs).then(
      (ms) => check("cluster serves every probe again (no node restarted)", true, `${ms} ms after the checks`),
      (err: Error) => check("cluster serves every probe again (no node restarted)", false, err.message),
    );
    checks.push(ready);
    return { fault: `${id}: ${fault.title}`, window, metrics, invariants, checks, journeys: { started: load.started, paid: load.paid, abandoned: load.abandoned }, timeline: timeline(records, window), notes };
  }

  /** Where the invariants are checked (the Kafka topics are the system's defaults on the private broker). */
  invariantSources(): InvariantSources {
    return {
      databaseUrl: this.databaseUrl,
      standinDatabaseUrl: this.infra!.postgres.url(STANDIN_DATABASE),
      redisUrl: this.infra!.redis.url,
      redisPrefix: REDIS_PREFIX,
      kafkaBrokers: this.infra!.kafka.brokers,
      topic: "payment.completed",
      dlqTopic: "payment.completed.dlq",
      standin: this.standin!,
    };
  }

  async teardown(): Promise<void> {
    await this.cluster?.stop().catch(() => undefined);
    await this.standin?.stop().catch(() => undefined);
    await stopInfra(this.infra);
    killEverything();
    if (process.env.CHAOS_KEEP_DIR !== "1") rmSync(this.dir, { recursive: true, force: true });
  }
}
