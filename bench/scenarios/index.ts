/** The scenarios of issue 8, in run order (their numbers are the CLI's scenario numbers). */
import type { Scenario } from "../scenario";
import { journeyScenario } from "./journey";
import { queueEntry, queueStatus } from "./queue";
import { contention, seatMap } from "./seats";
import { spread } from "./spread";

export const SCENARIOS: Scenario[] = [queueEntry, queueStatus, seatMap, contention, spread, journeyScenario];
export { baselineEntry } from "./queue";
