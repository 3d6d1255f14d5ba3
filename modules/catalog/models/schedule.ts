import { EntitySchema } from "@mikro-orm/core";

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
    concertId: { type: "integer", fieldName: "concert_id" },
    startsAt: { type: "Date", columnType: "timestamptz", fieldName: "starts_at" },
    totalSeats: { type: "integer", fieldName: "total_seats" },
  },
});
