import type { EntityManager } from "@mikro-orm/postgresql";

/** A payment as derived state (the ranking) needs it to be rebuilt. */
export interface PaymentSaleRecord {
  paymentId: number;
  concertId: number;
  seatIds: number[];
  /** True once the payment was refunded (its seats no longer count as sold). */
  refunded: boolean;
}

/**
 * Payments after `afterId` in id order (keyset pages), with their concert and seats. Hand-written:
 * one read across payment, reservation and reservation_seat instead of a query per payment.
 */
export async function paymentSalesPage(em: EntityManager, afterId: number, limit: number): Promise<PaymentSaleRecord[]> {
  const rows = await em.execute<PaymentSaleRecord[]>(
    `select p.id as "paymentId", r.concert_id as "concertId", p.status = 'REFUNDED' as refunded,
            array(select rs.seat_id from reservation_seat rs where rs.reservation_id = r.id order by rs.seat_id) as "seatIds"
       from payment p join reservation r on r.id = p.reservation_id
      where p.id > ? order by p.id limit ?`,
    [afterId, limit],
  );
  // int8[] arrays come back as strings from the driver.
  return rows.map((row) => ({ ...row, seatIds: row.seatIds.map(Number) }));
}
