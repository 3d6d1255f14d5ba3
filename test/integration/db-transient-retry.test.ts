/**
 * Transient PostgreSQL errors inside the transaction helper (lib/db/transient-retry.ts), on this
 * file's own database: backends are killed with pg_terminate_backend (by another session, or by a
 * one-shot trigger that terminates the backend running it), never the shared server.
 */
import type { MikroORM } from "@mikro-orm/postgresql";
import { Client } from "pg";
import { getConfig } from "../../lib/config";
import { initOrm, migrate } from "../../lib/db/orm";
import { isTransientPgError, transactional, withTransientRetry } from "../../lib/db/transient-retry";
import { isConsistentChain, ledgerBalance } from "../../modules/points/ledger-math";
import { chargePoints } from "../../modules/points/wallet-store";
import { payReservation } from "../../modules/payments/pay-reservation";
import { holdSeats } from "../../modules/reservations/seat-hold";
import { createConcertWithSeats, insertReservation, moneySnapshot } from "../support/payments-fixtures";

describe("transient PostgreSQL errors are retried inside safe transactions", () => {
  let orm: MikroORM;
  let admin: Client;
  const em = () => orm.em.fork();
  /** Reads for the assertions; a pooled connection of a killed backend fails once, so retried too. */
  const snapshot = (userId: string) => withTransientRetry(() => moneySnapshot(em(), userId));

  /**
   * The next `table` insert terminates its own backend (57P01), once: a sequence is not
   * transactional, so the rollback of the killed transaction does not re-arm it. `atCommit` moves
   * the kill into COMMIT (a deferred constraint trigger), where the outcome is unknown to the client.
   */
  async function killNextInsert(table: string, atCommit = false): Promise<void> {
    const name = `kill_${table}`;
    await admin.query(`drop trigger if exists ${name} on ${table}`);
    await admin.query(`drop sequence if exists ${name}_seq`);
    await admin.query(`create sequence ${name}_seq`);
    await admin.query(`create or replace function ${name}() returns trigger language plpgsql as $$
      begin
        if nextval('${name}_seq') = 1 then perform pg_terminate_backend(pg_backend_pid()); perform pg_sleep(1); end if;
        return null;
      end $$`);
    await admin.query(
      atCommit
        ? `create constraint trigger ${name} after insert on ${table} deferrable initially deferred for each row execute function ${name}()`
        : `create trigger ${name} after insert on ${table} for each row execute function ${name}()`,
    );
  }

  /** How often the trigger ran: 2 = the killed attempt and the one that went through. */
  async function triggerRuns(table: string): Promise<number> {
    const { rows } = await admin.query(`select last_value, is_called from kill_${table}_seq`);
    return rows[0].is_called ? Number(rows[0].last_value) : 0;
  }

  async function disarm(table: string): Promise<void> {
    await admin.query(`drop trigger if exists kill_${table} on ${table}`);
  }

  beforeAll(async () => {
    const url = getConfig().databaseUrl;
    orm = await initOrm(url, 4);
    await migrate(orm, url);
    admin = new Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await orm?.close(true);
  });

  it("runs a transaction again after another session terminated its backend mid-way", async () => {
    let attempts = 0;
    const result = await transactional(
      em(),
      async (tx) => {
        attempts++;
        const [{ pid }] = await tx.execute<Array<{ pid: number }>>("select pg_backend_pid() as pid");
        if (attempts === 1) await admin.query("select pg_terminate_backend($1)", [pid]);
        const [{ n }] = await tx.execute<Array<{ n: number }>>("select 41 + 1 as n");
        return n;
      },
      { repeatAfterLostCommit: false },
    );
    expect(result).toBe(42);
    expect(attempts).toBe(2);
  });

  it("charges once when the backend dies inside the charge (with and without a key)", async () => {
    await killNextInsert("ledger_entry");
    expect(await chargePoints(em(), "tr_charge", 700)).toEqual({ userId: "tr_charge", balance: 700 });
    expect(await triggerRuns("ledger_entry")).toBe(2);
    await disarm("ledger_entry");
    const db = await snapshot("tr_charge");
    expect(db.ledger.map((e) => [e.type, e.amount])).toEqual([["CHARGE", 700]]);
    expect(db.balance).toBe(700);
  });

  it("does not run an unkeyed charge again when COMMIT itself failed, and does run a keyed one", async () => {
    await killNextInsert("ledger_entry", true);
    const failure = await chargePoints(em(), "tr_commit", 300).catch((err: unknown) => err);
    expect(isTransientPgError(failure)).toBe(true);
    expect(await triggerRuns("ledger_entry")).toBe(1);
    // The kill came before the commit finished, so nothing was charged, and nothing twice.
    expect((await snapshot("tr_commit")).ledger).toEqual([]);

    await killNextInsert("ledger_entry", true);
    expect(await chargePoints(em(), "tr_commit", 300, "commit-key-1")).toEqual({ userId: "tr_commit", balance: 300 });
    await disarm("ledger_entry");
    const db = await snapshot("tr_commit");
    expect(db.ledger.map((e) => [e.type, e.amount, e.idempotencyKey])).toEqual([["CHARGE", 300, "commit-key-1"]]);
  });

  it("pays once when the backend dies at the payment's COMMIT: one payment, one USE row, balance = ledger sum", async () => {
    const userId = "tr_pay";
    await chargePoints(em(), userId, 10_000);
    const concert = await createConcertWithSeats(em(), 2, 1500);
    const reservation = await insertReservation(em(), concert, userId, concert.seatIds);

    await killNextInsert("payment", true);
    const paid = await payReservation(em(), { userId, reservationId: reservation.reservationId, idempotencyKey: "tr-pay-key-1", topic: "t" });
    expect(await triggerRuns("payment")).toBe(2);
    await disarm("payment");
    expect(paid.payment).toMatchObject({ reservationId: reservation.reservationId, amount: 3000, status: "COMPLETED" });

    const db = await snapshot(userId);
    expect(db.payments).toHaveLength(1);
    expect(db.ledger.filter((e) => e.type === "USE")).toEqual([expect.objectContaining({ amount: 3000, paymentId: paid.payment.id })]);
    expect(db.outbox).toHaveLength(1);
    expect(db.balance).toBe(7000);
    expect(db.balance).toBe(ledgerBalance(db.ledger));
    expect(isConsistentChain(db.ledger)).toBe(true);
  });

  it("holds once when the backend dies inside the hold: one live reservation of the seats", async () => {
    const concert = await createConcertWithSeats(em(), 3, 1000);
    await killNextInsert("reservation");
    const held = await holdSeats(em(), { userId: "tr_hold", scheduleId: concert.scheduleId, seatIds: concert.seatIds.slice(0, 2), holdSeconds: 60 });
    expect(await triggerRuns("reservation")).toBe(2);
    await disarm("reservation");
    const rows = await withTransientRetry(() =>
      em().execute<Array<{ id: number; status: string; seats: number }>>(
        `select r.id, r.status, (select count(*)::int from reservation_seat rs where rs.reservation_id = r.id and rs.live) as seats
           from reservation r where r.schedule_id = ?`,
        [concert.scheduleId],
      ),
    );
    expect(rows).toEqual([{ id: held.view.id, status: "HELD", seats: 2 }]);
  });

  it("does not retry a domain refusal or a non-transient database error", async () => {
    let attempts = 0;
    await expect(
      transactional(
        em(),
        async (tx) => {
          attempts++;
          await tx.execute("select 1 / 0");
        },
        { repeatAfterLostCommit: true },
      ),
    ).rejects.toMatchObject({ code: "22012" });
    expect(attempts).toBe(1);
  });
});
