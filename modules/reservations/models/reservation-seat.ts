import { EntitySchema } from "@mikro-orm/core";

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
    reservationId: { type: "integer", primary: true, fieldName: "reservation_id" },
    seatId: { type: "integer", primary: true, fieldName: "seat_id" },
    number: { type: "integer" },
    price: { type: "integer" },
    live: { type: "boolean" },
  },
});
