/**
 * What a benchmark run reports: the result shapes written to bench/results/*.json, the targets of
 * issue 8 (measured, never asserted) and the text printed per scenario and at the end. Pure.
 */
import type { MedianMetrics, RunMetrics } from "./stats";

export type TargetOp = ">=" | "<" | "==";

/** A target of the issue: `metric` is rps, p50, p95, p99, ratio, maxRssMb or extra.<name>. */
export interface TargetSpec {
  label: string;
  metric: string;
  op: TargetOp;
  value: number;
}

export interface TargetOutcome extends TargetSpec {
  actual: number | null;
  met: boolean;
}

export interface InvariantOutcome {
  name: string;
  pass: boolean;
  detail: string;
}

export interface ScenarioResult {
  mode: string;
  scenario: string;
  title: string;
  median: MedianMetrics;
  /** median req/s ÷ the baseline's median req/s of the same run. */
  ratio: number | null;
  /** Highest resident set size (MB) of each system node while the scenario ran. */
  peakRssMb: Record<string, number>;
  /** Average CPU use (cores) per process over the scenario; "bench" is the load generator. */
  cpuCores: Record<string, number>;
  invariants: InvariantOutcome[];
  targets: TargetOutcome[];
  runs: RunMetrics[];
}

export function metricValue(result: Pick<ScenarioResult, "median" | "ratio" | "peakRssMb">, metric: string): number | null {
  const m = result.median;
  if (metric === "ratio") return result.ratio;
  if (metric === "maxRssMb") {
    const values = Object.values(result.peakRssMb);
    return values.length ? Math.max(...values) : null;
  }
  if (metric.startsWith("extra.")) return m.extra[metric.slice(6)] ?? null;
  if (metric === "rps" || metric === "p50" || metric === "p95" || metric === "p99") return m[metric];
  throw new Error(`Unknown metric ${metric}`);
}

export function evaluateTargets(
  result: Pick<ScenarioResult, "median" | "ratio" | "peakRssMb">,
  targets: readonly TargetSpec[],
): TargetOutcome[] {
  return targets.map((target) => {
    const actual = metricValue(result, target.metric);
    const ok = actual !== null && !Number.isNaN(actual);
    const met =
      ok &&
      (target.op === ">=" ? actual >= target.value : target.op === "<" ? actual < target.value : actual === target.value);
    return { ...target, actual, met };
  });
}

function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return value < 10 ? `${num(value, 1)} ms` : `${num(value)} ms`;
}

/** "none" or "409 SEAT_UNAVAILABLE ×1950, socket timeout ×2", largest first. */
export function formatErrors(errors: Record<string, number>): string {
  const entries = Object.entries(errors).filter(([, n]) => n > 0);
  if (entries.length === 0) return "none";
  return entries
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([key, n]) => `${key} ×${n}`)
    .join(", ");
}

export function invariantsVerdict(invariants: readonly InvariantOutcome[]): string {
  if (invariants.length === 0) return "-";
  const failed = invariants.filter((i) => !i.pass).length;
  return failed === 0 ? `PASS ${invariants.length}/${invariants.length}` : `FAIL ${failed}/${invariants.length}`;
}

/** Whole numbers as they are, small fractions (ratios, per-journey counts) with 2 decimals. */
function extraDigits(value: number): number {
  if (Number.isInteger(value)) return 0;
  return Math.abs(value) < 10 ? 2 : 1;
}

/** The lines printed after a scenario. */
export function formatScenario(result: ScenarioResult): string {
  const m = result.median;
  const lines = [
    `── [${result.mode}] ${result.scenario}: ${result.title}`,
    `   req/s ${num(m.rps)} (median of ${m.runs})  p50 ${formatMs(m.p50)}  p95 ${formatMs(m.p95)}  p99 ${formatMs(m.p99)}` +
      `  ratio to baseline ${result.ratio === null ? "-" : num(result.ratio, 2)}`,
    `   errors (all runs): ${formatErrors(m.errors)}`,
    `   peak RSS: ${Object.entries(result.peakRssMb).map(([node, mb]) => `${node} ${num(mb)} MB`).join(", ") || "-"}` +
      `   CPU (cores): ${Object.entries(result.cpuCores).map(([name, cores]) => `${name} ${num(cores, 2)}`).join(", ") || "-"}`,
  ];
  const extra = Object.entries(m.extra);
  if (extra.length) lines.push(`   ${extra.map(([k, v]) => `${k} ${num(v, extraDigits(v))}`).join("  ")}`);
  for (const t of result.targets) {
    lines.push(`   target ${t.label}: ${t.met ? "met" : "MISSED"} (${num(t.actual, t.metric === "ratio" ? 2 : 1)})`);
  }
  lines.push(`   invariants: ${invariantsVerdict(result.invariants)}`);
  for (const inv of result.invariants) lines.push(`     ${inv.pass ? "PASS" : "FAIL"} ${inv.name}${inv.detail ? `: ${inv.detail}` : ""}`);
  return lines.join("\n");
}

/** A fixed-width table of rows of cells, first row = header. */
export function formatTable(rows: readonly string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => (row[col] ?? "").length)));
  const line = (row: readonly string[]) => row.map((cell, col) => (cell ?? "").padEnd(widths[col])).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** The short table printed at the end of `npm run bench`. */
export function formatSummary(results: readonly ScenarioResult[]): string {
  const header = ["mode", "scenario", "req/s", "p50", "p95", "p99", "×base", "peak RSS", "errors", "invariants", "targets"];
  const rows = results.map((r) => {
    const rss = Object.values(r.peakRssMb);
    const missed = r.targets.filter((t) => !t.met).length;
    const errorCount = Object.values(r.median.errors).reduce((a, b) => a + b, 0);
    return [
      r.mode,
      r.scenario,
      num(r.median.rps),
      formatMs(r.median.p50),
      formatMs(r.median.p95),
      formatMs(r.median.p99),
      r.ratio === null ? "-" : num(r.ratio, 2),
      rss.length ? `${num(Math.max(...rss))} MB` : "-",
      num(errorCount),
      invariantsVerdict(r.invariants),
      r.targets.length === 0 ? "-" : missed === 0 ? "met" : `${missed} missed`,
    ];
  });
  return formatTable([header, ...rows]);
}
