import { EntitySchema } from "@mikro-orm/core";

export const SeatStatuses = ["AVAILABLE", "HELD", "SOLD"] as const;
export type SeatStatus = (typeof SeatStatuses)[number];

export class Seat {
  id!: number;
  scheduleId!: number;
  number!: number;
  price!: number;
  status: SeatStatus = "AVAILABLE";
}

export const SeatSchema = new EntitySchema<Seat>({
  class: Seat,
  tableName: "seat",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    scheduleId: { type: "integer", fieldName: "schedule_id" },
    number: { type: "integer" },
    price: { type: "integer" },
    status: { type: "string", length: 16 },
  },
});
