/** `npm run bench -- [scenario ...] [--mode single|split|both] [--runs N] ...`: parsing only (pure). */
import type { BenchOptions } from "./scenario";
import type { Mode } from "./system";

export interface CliArgs {
  modes: Mode[];
  /** Scenario ids in run order (numbers were turned into ids). */
  scenarios: string[];
  options: BenchOptions;
  /** Directory for --cpu-prof profiles of the system nodes and the baseline, or null. */
  profileDir: string | null;
  verbose: boolean;
  /** Keep the run's database and Redis keys (for looking at them afterwards). */
  keep: boolean;
  /** Extra Node flags for the system nodes (e.g. --trace-gc, --max-semi-space-size=32). */
  nodeArgs: string[];
}

export const USAGE = `usage: npm run bench -- [scenario ...] [options]
scenarios (default: all, in this order; the calibration and the queue-entry baseline always run):
  1 queue-entry  2 queue-status  3 seat-map  4 contention  5 holds  6 hold-pay  7 journey
options:
  --mode single|split|both   system in one process, gateway + worker over NATS, or both (default both)
  --runs N                   measured runs per scenario, medians reported (default 3)
  --duration S               seconds per run of scenarios 1-3 and the baseline (default 5)
  --warmup S                 unmeasured warm-up seconds before scenarios 1-3 and the baseline (default 2)
  --connections N            concurrent connections / virtual users (default 100)
  --generator wrk|autocannon load generator (default wrk, installed with apt-get when missing;
                             autocannon runs in this process and costs the system CPU)
  --threads N                wrk threads (default 2)
  --profile [DIR]            start the nodes with --cpu-prof, profiles in DIR (default /tmp/bench-profiles)
  --node-arg FLAG            extra Node flag for the system nodes, repeatable (e.g. --node-arg=--trace-gc)
  --verbose                  echo the children's output
  --keep                     keep the run's database and Redis keys`;

function positiveInt(flag: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} needs a positive integer, got ${raw ?? "nothing"}`);
  return value;
}

export function parseArgs(argv: readonly string[], scenarioIds: readonly string[]): CliArgs {
  const args: CliArgs = {
    modes: ["single", "split"],
    scenarios: [],
    options: { connections: 100, durationS: 5, runs: 3, warmupS: 2, generator: "wrk", threads: 2 },
    profileDir: null,
    verbose: false,
    keep: false,
    nodeArgs: [],
  };
  const expanded = argv.flatMap((a) => (a.startsWith("--node-arg=") ? ["--node-arg", a.slice("--node-arg=".length)] : [a]));
  for (let i = 0; i < expanded.length; i++) {
    const arg = expanded[i];
    const value = () => expanded[++i];
    switch (arg) {
      case "--mode": {
        const mode = value();
        if (mode === "both") args.modes = ["single", "split"];
        else if (mode === "single" || mode === "split") args.modes = [mode];
        else throw new Error(`--mode must be single, split or both, got ${mode}`);
        break;
      }
      case "--runs":
        args.options.runs = positiveInt(arg, value());
        break;
      case "--duration":
        args.options.durationS = positiveInt(arg, value());
        break;
      case "--warmup":
        args.options.warmupS = positiveInt(arg, value());
        break;
      case "--connections":
        args.options.connections = positiveInt(arg, value());
        break;
      case "--threads":
        args.options.threads = positiveInt(arg, value());
        break;
      case "--generator": {
        const generator = value();
        if (generator !== "wrk" && generator !== "autocannon") throw new Error(`--generator must be wrk or autocannon, got ${generator ?? "nothing"}`);
        args.options.generator = generator;
        break;
      }
      case "--profile":
        args.profileDir = expanded[i + 1] && !expanded[i + 1].startsWith("-") && !isScenario(expanded[i + 1], scenarioIds) ? value() : "/tmp/bench-profiles";
        break;
      case "--node-arg": {
        const flag = value();
        if (!flag?.startsWith("--")) throw new Error(`--node-arg needs a Node flag such as --trace-gc, got ${flag ?? "nothing"}`);
        args.nodeArgs.push(flag);
        break;
      }
      case "--verbose":
        args.verbose = true;
        break;
      case "--keep":
        args.keep = true;
        break;
      default: {
        if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
        const id = /^\d+$/.test(arg) ? scenarioIds[Number(arg) - 1] : arg === "all" ? "all" : scenarioIds.find((s) => s === arg);
        if (!id) throw new Error(`unknown scenario ${arg} (one of ${scenarioIds.map((s, n) => `${n + 1} ${s}`).join(", ")})`);
        args.scenarios.push(...(id === "all" ? scenarioIds : [id]));
      }
    }
  }
  if (args.scenarios.length === 0) args.scenarios = [...scenarioIds];
  // Each scenario once, in the canonical order.
  args.scenarios = scenarioIds.filter((id) => args.scenarios.includes(id));
  return args;
}

function isScenario(arg: string, ids: readonly string[]): boolean {
  return /^\d+$/.test(arg) || arg === "all" || ids.includes(arg);
}
