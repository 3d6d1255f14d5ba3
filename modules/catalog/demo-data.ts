import type { EntityManager } from "@mikro-orm/postgresql";
import { createConcert, createSchedule } from "./catalog-writes";

export const DEMO_CONCERTS = [
  { title: "IU 2027 World Tour: HEREH", venue: "KSPO Dome, Seoul" },
  { title: "BTS Yet To Come", venue: "Busan Asiad Main Stadium" },
  { title: "Seoul Philharmonic: Mahler 5", venue: "Lotte Concert Hall" },
];
export const DEMO_SCHEDULES_PER_CONCERT = 3;

/** Creates the demo concerts that are missing (matched by title); returns how many it created. */
export async function seedDemoData(em: EntityManager, now = new Date()): Promise<number> {
  let created = 0;
  for (const [index, concert] of DEMO_CONCERTS.entries()) {
    // One seeder at a time, so two nodes starting together do not both insert.
    const inserted = await em.transactional(async (tx) => {
      await tx.execute("select pg_advisory_xact_lock(724301120)");
      const existing = await tx.execute("select id from concert where title = ?", [concert.title]);
      if (existing.length > 0) return false;
      const concertId = await createConcert(tx, concert.title, concert.venue);
      for (let day = 0; day < DEMO_SCHEDULES_PER_CONCERT; day++) {
        const startsAt = new Date(now.getTime() + (30 + index * 7 + day) * 86_400_000);
        startsAt.setUTCHours(10, 0, 0, 0); // 19:00 in Seoul
        await createSchedule(tx, concertId, startsAt);
      }
      return true;
    });
    if (inserted) created++;
  }
  return created;
}
