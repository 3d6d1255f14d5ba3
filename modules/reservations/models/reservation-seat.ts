import { EntitySchema } from "@mikro-orm/core";
import { Seat } from "../../catalog/models/seat";
import { Reservation } from "./reservation";

/**
 * A seat of a reservation. `live` mirrors "the reservation is HELD or CONFIRMED"; the partial
 * unique index on (seat_id) WHERE live is the database's own guard against double booking.
 */
export class ReservationSeat {
  reservationId!: number;
  seatId!: number;
  number!: number;
  price!: number;
  live = true;
}

export const ReservationSeatSchema = new EntitySchema<ReservationSeat>({
  class: ReservationSeat,
  tableName: "reservation_seat",
  properties: {
    reservationId: {
      kind: "m:1",
      entity: () => Reservation,
      mapToPk: true,
      primary: true,
      fieldName: "reservation_id",
      foreignKeyName: "reservation_seat_reservation_id_fkey",
      deleteRule: "cascade",
      updateRule: "no action",
    },
    seatId: {
      kind: "m:1",
      entity: () => Seat,
      mapToPk: true,
      primary: true,
      fieldName: "seat_id",
      foreignKeyName: "reservation_seat_seat_id_fkey",
      updateRule: "no action",
    },
    number: { type: "integer" },
    price: { type: "integer" },
    live: { type: "boolean", default: true },
  },
  uniques: [
    // Invariant 1 in the database: a seat is in at most one HELD or CONFIRMED reservation.
    {
      name: "reservation_seat_live_uq",
      expression: "create unique index reservation_seat_live_uq on reservation_seat (seat_id) where live",
    },
  ],
  checks: [{ name: "reservation_seat_price_check", expression: "price >= 0" }],
});
