/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time per function and per
 * package / project file, to find what a missed target spends its CPU on.
 *   node dist/bench/profile-summary.js <file.cpuprofile> [top=25] [fromS-toS]
 * fromS-toS keeps the samples taken that many seconds after the profile started (run.ts prints
 * each scenario's window relative to the node's start when --profile is on).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Window {
  fromS: number;
  toS: number;
}

/** "moleculer", "ioredis", "(project) services/api.service.js", "(node) ...", "(gc)". */
export function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith("node:")) return `(node) ${url.slice(5).split("/")[0]}`;
  const project = /\/dist\/(.+)$/.exec(url);
  return project ? `(project) ${project[1]}` : url;
}

export function summarize(
  profile: CpuProfile,
  window?: Window,
): { totalMs: number; byFunction: Map<string, number>; byOwner: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let atUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    atUs += delta;
    if (window && (atUs < window.fromS * 1e6 || atUs > window.toS * 1e6)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const ms = us / 1000;
    total += ms;
    const fn = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(/^.*\/dist\//, "")}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + ms);
    const owner = ownerOf(frame.url, frame.functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
  }
  return { totalMs: total, byFunction, byOwner };
}

function top(map: Map<string, number>, n: number, totalMs: number): string {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => `${((100 * ms) / totalMs).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(7)} ms  ${name}`)
    .join("\n");
}

if (require.main === module) {
  const [file, count, range] = process.argv.slice(2);
  if (!file) {
    console.error("usage: node dist/bench/profile-summary.js <file.cpuprofile> [top]");
    process.exit(2);
  }
  const n = Number(count ?? 25);
  const bounds = range ? range.split("-").map(Number) : undefined;
  const window = bounds && bounds.length === 2 ? { fromS: bounds[0], toS: bounds[1] } : undefined;
  const { totalMs, byFunction, byOwner } = summarize(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, window);
  console.log(`total ${totalMs.toFixed(0)} ms sampled\n\nby package / file (self time):\n${top(byOwner, n, totalMs)}\n\nby function (self time):\n${top(byFunction, n, totalMs)}`);
}
