/** The chaos run's outcome: one table row per fault on stdout, the full results as JSON under chaos/results/. */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ChaosOptions } from "./options";
import { projectRoot } from "./procs";
import type { FaultResult } from "./types";

const HEADERS = ["fault", "requests", "5xx during", "5xx after", "other fail", "500s", "max ms", "recovery s", "invariants", "checks"];

function failedNames(list: FaultResult["invariants"]): string {
  const bad = list.filter((i) => !i.ok);
  return bad.length === 0 ? `OK (${list.length})` : `${bad.length} violated: ${bad.map((i) => i.name).join("; ")}`;
}

export function row(r: FaultResult): string[] {
  const m = r.metrics;
  const recovery = m.recoveryS === null ? "never" : String(m.recoveryS);
  return [r.fault, String(m.requests), String(m.fiveXxDuring), String(m.fiveXxAfter), String(m.otherFailures), String(m.count500), String(m.maxMsDuring), recovery, failedNames(r.invariants), failedNames(r.checks)];
}

export function formatTable(results: FaultResult[]): string {
  const rows = [HEADERS, ...results.map(row)];
  const widths = HEADERS.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

/** Every violation and failed check with its detail, for the log under the table. */
export function formatDetails(results: FaultResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const bad = [...r.invariants, ...r.checks].filter((i) => !i.ok);
    const m = r.metrics;
    lines.push(`${r.fault}: journeys ${r.journeys.paid}/${r.journeys.started} paid; failures during ${JSON.stringify(m.failuresDuring)}, after ${JSON.stringify(m.failuresAfter)}`);
    for (const note of r.notes) lines.push(`  note: ${note}`);
    for (const sample of m.samples500) lines.push(`  500: ${sample}`);
    for (const i of bad) lines.push(`  ✗ ${i.name}: ${i.detail}`);
    for (const i of r.checks.filter((x) => x.ok)) lines.push(`  ✓ ${i.name}: ${i.detail}`);
    for (const i of r.invariants.filter((x) => x.ok && x.convergedMs !== undefined)) lines.push(`  ✓ ${i.name} (converged in ${i.convergedMs} ms)`);
  }
  return lines.join("\n");
}

export function saveResults(results: FaultResult[], options: ChaosOptions, profile: string): string {
  const dir = path.join(projectRoot(), "chaos", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `chaos-${profile}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ profile, options, results }, null, 2));
  return file;
}

/** Non-zero exit when any invariant is violated or any 500 was answered. */
export function verdictOf(results: FaultResult[]): { ok: boolean; why: string[] } {
  const why: string[] = [];
  for (const r of results) {
    const bad = r.invariants.filter((i) => !i.ok).length;
    if (bad) why.push(`${r.fault}: ${bad} invariant violations`);
    if (r.metrics.count500) why.push(`${r.fault}: ${r.metrics.count500} × 500`);
  }
  return { ok: why.length === 0, why };
}
