/**
 * `npm run chaos`: the full chaos run. Prints one row per fault and saves the results as JSON under
 * chaos/results/; exits non-zero on any invariant violation or any 500.
 *   CHAOS_PROFILE=short for the CI timings; CHAOS_FAULTS=worker-kill,redis to pick faults;
 *   CHAOS_<OPTION>=… for any timing (chaos/options.ts).
 */
import { chaosFaults, chaosOptions } from "./options";
import { ChaosSuite } from "./suite";
import { formatDetails, formatTable, saveResults, verdictOf } from "./table";
import type { FaultResult } from "./types";

async function main(): Promise<number> {
  const profile = process.env.CHAOS_PROFILE === "short" ? "short" : "full";
  const options = chaosOptions(profile);
  const suite = new ChaosSuite(options);
  const results: FaultResult[] = [];
  let crashed: unknown;
  try {
    await suite.setup();
    for (const id of chaosFaults()) results.push(await suite.runFault(id));
  } catch (err) {
    crashed = err;
  } finally {
    await suite.teardown();
  }
  console.log(formatTable(results));
  console.log(formatDetails(results));
  console.log(`results: ${saveResults(results, options, profile)}`);
  if (crashed) {
    console.error("chaos run aborted:", crashed);
    return 2;
  }
  const verdict = verdictOf(results);
  if (!verdict.ok) console.log(`FAILED:\n  ${verdict.why.join("\n  ")}`);
  return verdict.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
