import { EntitySchema } from "@mikro-orm/core";
import { Schedule } from "./schedule";

export const SeatStatuses = ["AVAILABLE", "HELD", "SOLD"] as const;
export type SeatStatus = (typeof SeatStatuses)[number];

/** A seat of a schedule: `number` counts within its row, so (section, row, number) names it. */
export class Seat {
  id!: number;
  scheduleId!: number;
  section!: string;
  row!: string;
  number!: number;
  price!: number;
  status: SeatStatus = "AVAILABLE";
}

export const SeatSchema = new EntitySchema<Seat>({
  class: Seat,
  tableName: "seat",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    scheduleId: {
      kind: "m:1",
      entity: () => Schedule,
      mapToPk: true,
      fieldName: "schedule_id",
      foreignKeyName: "seat_schedule_id_fkey",
      deleteRule: "cascade",
      updateRule: "no action",
    },
    section: { type: "string", length: 32 },
    // `row` is a reserved word in SQL: the column is row_label.
    row: { type: "string", length: 16, fieldName: "row_label" },
    number: { type: "integer" },
    price: { type: "integer" },
    // An enum: MikroORM writes the CHECK (seat_status_check) from the same array as the TypeScript type.
    status: { enum: true, items: () => SeatStatuses, columnType: "varchar(16)", default: "AVAILABLE" },
  },
  uniques: [{ name: "seat_schedule_section_row_number_uq", properties: ["scheduleId", "section", "row", "number"] }],
  checks: [
    { name: "seat_number_check", expression: "number > 0" },
    { name: "seat_price_check", expression: "price >= 0" },
  ],
});
