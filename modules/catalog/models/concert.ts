import { EntitySchema, type Opt } from "@mikro-orm/core";

/**
 * A concert. `queueOpensAt` / `saleOpensAt` are the sale windows of SPEC §8 (null = open now);
 * the database refuses a sale that opens before its queue.
 */
export class Concert {
  id!: number;
  title!: string;
  venue!: string;
  queueOpensAt: Opt<Date> | null = null;
  saleOpensAt: Opt<Date> | null = null;
  createdAt: Opt<Date> = new Date();
}

export const ConcertSchema = new EntitySchema<Concert>({
  class: Concert,
  tableName: "concert",
  properties: {
    id: { type: "integer", primary: true, autoincrement: true },
    title: { type: "string", length: 200 },
    venue: { type: "string", length: 200 },
    queueOpensAt: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "queue_opens_at" },
    saleOpensAt: { type: "Date", columnType: "timestamptz", nullable: true, fieldName: "sale_opens_at" },
    createdAt: { type: "Date", columnType: "timestamptz", fieldName: "created_at", defaultRaw: "now()" },
  },
  checks: [
    {
      name: "concert_sale_after_queue_check",
      expression: "sale_opens_at is null or queue_opens_at is null or sale_opens_at >= queue_opens_at",
    },
  ],
});
