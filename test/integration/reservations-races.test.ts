/** Issue 5's concurrency tests with the Redis lock in front of PostgreSQL (the default). */
import { getConfig } from "../../lib/config";
import { describeReservationRaces } from "../support/reservation-races";

it("runs with the Redis lock switched on", () => {
  expect(getConfig().reservationRedlock).toBe(true);
});

describeReservationRaces("Redis lock on", true);
