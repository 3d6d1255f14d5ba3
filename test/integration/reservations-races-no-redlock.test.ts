/**
 * Issue 5's concurrency tests with the Redis lock switched off: PostgreSQL's row locks and the
 * partial unique index alone must keep invariant 1.
 */
import { getConfig, resetConfig } from "../../lib/config";
import { describeReservationRaces } from "../support/reservation-races";

process.env.RESERVATION_REDLOCK = "false";
resetConfig();

it("runs with the Redis lock switched off", () => {
  expect(getConfig().reservationRedlock).toBe(false);
});

describeReservationRaces("Redis lock off", false);
