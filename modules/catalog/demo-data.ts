import type { EntityManager } from "@mikro-orm/postgresql";
import type { SectionSpec } from "./catalog-rules";
import { addConcert, addSchedule } from "./catalog-writes";
import { Concert } from "./models/concert";
import { PRICE_TIERS } from "./seat-pricing";

export const DEMO_CONCERTS = [
  { title: "IU 2027 World Tour: HEREH", venue: "KSPO Dome, Seoul" },
  { title: "BTS Yet To Come", venue: "Busan Asiad Main Stadium" },
  { title: "Seoul Philharmonic: Mahler 5", venue: "Lotte Concert Hall" },
];
export const DEMO_SCHEDULES_PER_CONCERT = 3;

const tierPrice = (name: (typeof PRICE_TIERS)[number]["name"]) => PRICE_TIERS.find((tier) => tier.name === name)!.price;

/** The demo hall: 50 seats in three priced sections of rows of 10. */
export const DEMO_SECTIONS: SectionSpec[] = [
  { name: "VIP", rows: 1, seatsPerRow: 10, price: tierPrice("VIP") },
  { name: "R", rows: 2, seatsPerRow: 10, price: tierPrice("R") },
  { name: "S", rows: 2, seatsPerRow: 10, price: tierPrice("S") },
];

/**
 * Creates the demo concerts that are missing (matched by title) through the operator's own
 * functions (addConcert, addSchedule); returns how many it created. Queue and sale open now.
 */
export async function seedDemoData(em: EntityManager, now = new Date()): Promise<number> {
  let created = 0;
  for (const [index, concert] of DEMO_CONCERTS.entries()) {
    // One seeder at a time, so two nodes starting together do not both insert.
    const inserted = await em.transactional(async (tx) => {
      await tx.execute("select pg_advisory_xact_lock(724301120)");
      if (await tx.findOne(Concert, { title: concert.title })) return false;
      const { id } = await addConcert(tx, concert);
      for (let day = 0; day < DEMO_SCHEDULES_PER_CONCERT; day++) {
        const startsAt = new Date(now.getTime() + (30 + index * 7 + day) * 86_400_000);
        startsAt.setUTCHours(10, 0, 0, 0); // 19:00 in Seoul
        await addSchedule(tx, id, { startsAt: startsAt.toISOString(), sections: DEMO_SECTIONS });
      }
      return true;
    });
    if (inserted) created++;
  }
  return created;
}
