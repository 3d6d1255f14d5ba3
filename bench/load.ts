/**
 * One load run, generator-independent: a list of requests, cycled for a duration ("cycle"), each
 * sent once ("once"), or each a hold followed by the payment of its reservation ("hold-pay").
 * wrk (bench/wrk.ts) is the default generator; autocannon (in this process) is the fallback.
 * Every run carries the CPU seconds each process used during it (bench/cpu.ts).
 */
import autocannon from "autocannon";
import { cpuDelta, type CpuProbe } from "./cpu";
import { errorKey } from "./http-client";
import { summarizeLatencies, type RunMetrics } from "./stats";
import { runWrk, type WrkLine, type WrkMode } from "./wrk";

export type Generator = "wrk" | "autocannon";
export type { WrkLine as LoadLine, WrkMode as LoadMode } from "./wrk";

export interface LoadSpec {
  url: string;
  mode: WrkMode;
  lines: readonly WrkLine[];
  /** cycle: seconds of the run. */
  durationS?: number;
  /** hold-pay: Idempotency-Key prefix of the payments. */
  tag?: string;
}

export interface LoadSettings {
  generator: Generator;
  connections: number;
  threads: number;
  cpu: CpuProbe;
}

export type Loader = (spec: LoadSpec) => Promise<RunMetrics>;

/** Longest a once / hold-pay run may take before it counts as incomplete. */
const FINITE_LIMIT_S = 180;

export function createLoader(settings: LoadSettings): Loader {
  return async (spec) => {
    const before = settings.cpu.snapshot();
    const own = process.cpuUsage();
    const run =
      settings.generator === "wrk"
        ? await runWrk({
            url: spec.url,
            connections: settings.connections,
            threads: settings.threads,
            mode: spec.mode,
            lines: spec.lines,
            durationS: spec.mode === "cycle" ? (spec.durationS ?? 5) : FINITE_LIMIT_S,
            tag: spec.tag,
          })
        : await runAutocannon(spec, settings.connections);
    const used = process.cpuUsage(own);
    // autocannon runs in this process, so its CPU is this process's.
    const generator = run.cpuS?.generator ?? (used.user + used.system) / 1e6;
    run.cpuS = { ...cpuDelta(before, settings.cpu.snapshot()), generator };
    return run;
  };
}

type Counts = { statuses: Record<string, number>; errors: Record<string, number>; held: number; paid: number };

function autocannonRequests(spec: LoadSpec, counts: Counts): autocannon.Request[] {
  let next = 0;
  const first: autocannon.Request = {
    method: spec.lines[0].method as autocannon.Request["method"],
    setupRequest(request, context) {
      const line = spec.lines[next++ % spec.lines.length];
      context.line = line;
      context.reservationId = undefined;
      return { ...request, method: line.method as autocannon.Request["method"], path: line.path, headers: { ...request.headers, ...line.headers }, body: line.body };
    },
    onResponse(status, body, context) {
      if (spec.mode === "hold-pay" && status === 201) {
        counts.held++;
        context.reservationId = (JSON.parse(body) as { id: number }).id;
      }
    },
  };
  if (spec.mode !== "hold-pay") return [first];
  const pay: autocannon.Request = {
    method: "POST",
    path: "/api/payments",
    setupRequest(request, context) {
      if (!context.reservationId) return null; // the hold failed: start over with the next line
      const line = context.line as WrkLine;
      const headers = { ...request.headers, ...line.headers, "idempotency-key": `bench-pay-${spec.tag ?? ""}-${context.reservationId}` };
      return { ...request, headers, body: JSON.stringify({ reservationId: context.reservationId }) };
    },
    onResponse(status) {
      if (status === 201) counts.paid++;
    },
  };
  return [first, pay];
}

async function runAutocannon(spec: LoadSpec, connections: number): Promise<RunMetrics> {
  const counts: Counts = { statuses: {}, errors: {}, held: 0, paid: 0 };
  const latencies: number[] = [];
  const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);
  const requests = autocannonRequests(spec, counts).map((request) => ({
    ...request,
    onResponse(status: number, body: string, context: autocannon.Context, headers: Record<string, string>) {
      count(counts.statuses, String(status));
      if (status >= 400) count(counts.errors, errorKey(status, body));
      request.onResponse?.(status, body, context, headers);
    },
  }));
  const amount = spec.mode === "cycle" ? undefined : spec.lines.length * (spec.mode === "hold-pay" ? 2 : 1);
  const instance = autocannon({
    url: spec.url,
    connections: Math.min(connections, amount ?? connections),
    // autocannon validates `duration` even when `amount` is set: pass only the one in use.
    ...(amount === undefined ? { duration: spec.durationS ?? 5 } : { amount }),
    timeout: 20,
    requests,
  });
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
  });
  instance.on("reqError", (err: { code?: string; message?: string }) => count(counts.errors, `socket ${err.code ?? err.message ?? "error"}`));
  const result = await instance;
  const durationS = result.duration > 0 ? result.duration : Number.NaN;
  return {
    requests: latencies.length,
    durationS,
    rps: latencies.length / durationS,
    latency: summarizeLatencies(latencies),
    errors: counts.errors,
    statuses: counts.statuses,
    extra: spec.mode === "hold-pay" ? { held: counts.held, paid: counts.paid } : {},
  };
}

export const JSON_HEADERS = { "content-type": "application/json" };
