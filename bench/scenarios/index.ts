/** The scenarios of issues 8 and 14, in run order (their numbers are the CLI's scenario numbers). */
import type { Scenario } from "../scenario";
import { holdPay, holds } from "./bookings";
import { journeyScenario } from "./journey";
import { queueEntry, queueStatus } from "./queue";
import { contention, seatMap } from "./seats";

export const SCENARIOS: Scenario[] = [queueEntry, queueStatus, seatMap, contention, holds, holdPay, journeyScenario];
export { baselineEntry, calibration } from "./baselines";
