import type { EntityManager } from "@mikro-orm/postgresql";

/**
 * Whether `userId` has reservation `reservationId` HELD and not yet expired (database clock). A live
 * hold was made with an ACTIVE token, so paying it needs no ACTIVE token any more (SPEC §8: paying
 * never fails with 403 while the hold is valid) — also after the queue's Redis state was lost.
 */
export async function holdsLiveReservation(em: EntityManager, userId: string, reservationId: number): Promise<boolean> {
  const rows = await em.execute<Array<{ live: boolean }>>(
    "select true as live from reservation where id = ? and user_id = ? and status = 'HELD' and expires_at > clock_timestamp()",
    [reservationId, userId],
  );
  return rows.length > 0;
}
