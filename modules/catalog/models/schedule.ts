import { EntitySchema } from "@mikro-orm/core";
import { Concert } from "./concert";

/** One dated performance of a concert. */
export class Schedule {
  id!: number;
  concertId!: number;
  startsAt!: Date;
  totalSeats!: number;
}

export const ScheduleSchema = new EntitySchema<Schedule>({
  class: Schedule,
  tableName: "schedule",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    // A plain id on the class (mapToPk), a real foreign key in the schema.
    concertId: {
      kind: "m:1",
      entity: () => Concert,
      mapToPk: true,
      fieldName: "concert_id",
      foreignKeyName: "schedule_concert_id_fkey",
      deleteRule: "cascade",
      updateRule: "no action",
    },
    startsAt: { type: "Date", columnType: "timestamptz", fieldName: "starts_at" },
    totalSeats: { type: "integer", fieldName: "total_seats" },
  },
  indexes: [{ name: "schedule_concert_idx", properties: ["concertId", "startsAt"] }],
  checks: [{ name: "schedule_total_seats_check", expression: "total_seats > 0" }],
});
