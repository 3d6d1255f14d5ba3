/**
 * Parameter schemas (fastest-validator) of the operator's catalog actions (SPEC §7). Types and
 * ranges fail here with a 422 naming the field; the rules across fields are in catalog-rules.ts.
 */
import { MAX_SEAT_PRICE, MAX_SEATS_PER_SCHEDULE, MAX_SECTIONS_PER_SCHEDULE } from "./catalog-rules";

const id = { type: "number", integer: true, positive: true, convert: true, max: 2_147_483_647 } as const;
const text = (max: number) => ({ type: "string", trim: true, min: 1, max }) as const;
/** ISO-8601, parsed by catalog-rules.parseInstant; null clears a window (open now). */
const instant = { type: "string", optional: true, nullable: true, max: 40 } as const;
const count = { type: "number", integer: true, positive: true, max: MAX_SEATS_PER_SCHEDULE } as const;

export const createConcertParams = {
  title: text(200),
  venue: text(200),
  queueOpensAt: instant,
  saleOpensAt: instant,
};

export const updateConcertParams = {
  concertId: id,
  title: { ...text(200), optional: true },
  venue: { ...text(200), optional: true },
  queueOpensAt: instant,
  saleOpensAt: instant,
};

export const createScheduleParams = {
  concertId: id,
  startsAt: { type: "string", max: 40 },
  sections: {
    type: "array",
    min: 1,
    max: MAX_SECTIONS_PER_SCHEDULE,
    items: {
      type: "object",
      strict: "remove",
      props: {
        name: text(32),
        rows: count,
        seatsPerRow: count,
        price: { type: "number", integer: true, min: 0, max: MAX_SEAT_PRICE },
      },
    },
  },
};
