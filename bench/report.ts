/**
 * What a benchmark run reports: the result shapes written to bench/results/*.json, the targets of
 * issues 8 and 14 (measured, never asserted), the generator check and the text printed per scenario
 * and at the end. Pure.
 */
import { ratio, type MedianMetrics, type RunMetrics } from "./stats";

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
  /** Median of the runs' ratios to their paired bare-server runs (else ÷ the baseline's median). */
  ratio: number | null;
  /** What `ratio` divides by. */
  ratioTo?: string;
  /** Load generator of the measured runs. */
  generator: string;
  /** Highest resident set size (MB) of each system node while the scenario ran. */
  peakRssMb: Record<string, number>;
  /** Average CPU use (cores) per process over the measured runs; "generator" is the load generator. */
  cpuCores: Record<string, number>;
  /** Median over the runs of CPU seconds per 1,000 requests, per process (bench/cpu.ts). */
  cpuPer1000: Record<string, number>;
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

/** Processes in a fixed order: system nodes and servers first, then Redis, PostgreSQL, the generator. */
const LAST = ["redis", "postgres", "generator"];
function processOrder(names: Iterable<string>): string[] {
  const rank = (n: string) => LAST.indexOf(n);
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b));
}

/** "system 0.180, redis 0.031, …" of CPU seconds per 1,000 requests (processes under 0.0005 left out). */
export function formatCpuPer1000(cpu: Record<string, number>): string {
  const shown = processOrder(Object.keys(cpu)).filter((name) => cpu[name] >= 0.0005);
  return shown.map((name) => `${name} ${num(cpu[name], 3)}`).join(", ") || "-";
}

/** The lines printed after a scenario. */
export function formatScenario(result: ScenarioResult): string {
  const m = result.median;
  const cores = processOrder(Object.keys(result.cpuCores)).filter((n) => result.cpuCores[n] >= 0.005);
  const lines = [
    `── [${result.mode}] ${result.scenario}: ${result.title}`,
    `   req/s ${num(m.rps)} (median of ${m.runs}, ${result.generator})  p50 ${formatMs(m.p50)}  p95 ${formatMs(m.p95)}  p99 ${formatMs(m.p99)}` +
      (result.ratio === null ? "" : `  ratio to ${result.ratioTo ?? "baseline"} ${num(result.ratio, 2)}`),
    `   errors (all runs): ${formatErrors(m.errors)}`,
    `   CPU s per 1,000 requests: ${formatCpuPer1000(result.cpuPer1000)}`,
    `   cores during the runs: ${cores.map((name) => `${name} ${num(result.cpuCores[name], 2)}`).join(", ") || "-"}` +
      `   peak RSS: ${Object.entries(result.peakRssMb).map(([node, mb]) => `${node} ${num(mb)} MB`).join(", ") || "-"}`,
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

/** Scenario × process table of CPU seconds per 1,000 requests. */
export function formatCpuTable(results: readonly ScenarioResult[]): string {
  const names = processOrder(results.flatMap((r) => Object.keys(r.cpuPer1000))).filter((n) => results.some((r) => r.cpuPer1000[n] >= 0.0005));
  const rows = results.map((r) => [r.mode, r.scenario, ...names.map((n) => (n in r.cpuPer1000 ? num(r.cpuPer1000[n], 3) : "-"))]);
  return formatTable([["mode", "scenario", ...names], ...rows]);
}

export interface GeneratorCheck {
  generator: string;
  /** Median req/s of the generator against a constant 200. */
  calibrationRps: number;
  baselineRps: number;
  /** calibrationRps ÷ baselineRps: above 1 the baseline is not held back by the generator. */
  headroom: number;
  /** Cores the generator used during the baseline runs, and its share of all measured CPU then. */
  generatorCoresAtBaseline: number | null;
  generatorShareAtBaseline: number | null;
  /** headroom ≥ 1.2: the baseline's rate is the bare server's, not the generator's. */
  ok: boolean;
}

export function generatorCheck(calibration: ScenarioResult, baseline: ScenarioResult): GeneratorCheck {
  const headroom = ratio(calibration.median.rps, baseline.median.rps) ?? Number.NaN;
  const cores = baseline.cpuCores.generator ?? null;
  const total = Object.values(baseline.cpuCores).reduce((a, b) => a + b, 0);
  return {
    generator: baseline.generator,
    calibrationRps: calibration.median.rps,
    baselineRps: baseline.median.rps,
    headroom,
    generatorCoresAtBaseline: cores,
    generatorShareAtBaseline: cores === null || !(total > 0) ? null : cores / total,
    ok: headroom >= 1.2,
  };
}

export function formatGeneratorCheck(c: GeneratorCheck): string {
  const share = c.generatorShareAtBaseline === null ? "" : ` (${num(c.generatorShareAtBaseline * 100)}% of the measured CPU)`;
  return (
    `generator check: ${c.generator} reaches ${num(c.calibrationRps)} req/s against a constant-200 node:http server, ` +
    `${num(c.headroom, 2)}× the baseline's ${num(c.baselineRps)} req/s; during the baseline it used ` +
    `${num(c.generatorCoresAtBaseline, 2)} cores${share}. ` +
    (c.ok ? "The baseline's rate is the bare server's: the generator is not the limit." : "The generator may be what limits the baseline.")
  );
}

/** The short table printed at the end of `npm run bench`. */
export function formatSummary(results: readonly ScenarioResult[]): string {
  const header = ["mode", "scenario", "req/s", "p50", "p95", "p99", "ratio", "peak RSS", "errors", "invariants", "targets"];
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
