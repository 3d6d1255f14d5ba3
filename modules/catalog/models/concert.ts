import { EntitySchema } from "@mikro-orm/core";

export class Concert {
  id!: number;
  title!: string;
  venue!: string;
  createdAt: Date = new Date();
}

export const ConcertSchema = new EntitySchema<Concert>({
  class: Concert,
  tableName: "concert",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    title: { type: "string", length: 200 },
    venue: { type: "string", length: 200 },
    createdAt: { type: "Date", columnType: "timestamptz", defaultRaw: "now()" },
  },
});
