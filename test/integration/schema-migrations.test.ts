import { Client } from "pg";
import type { MikroORM } from "@mikro-orm/postgresql";
import { getConfig } from "../../lib/config";
import { initOrm } from "../../lib/db/orm";
import { migrationsList } from "../../migrations";

/**
 * The entities are the one source of the schema: the migrations must build exactly what they
 * declare, and the wave-2 migration must upgrade a database that holds wave-1 data.
 */
const LAST_V1_MIGRATION = "Migration20261203000000_outbox_lease";

function databaseUrl(suffix: string): string {
  const url = new URL(getConfig().databaseUrl);
  url.pathname = `${url.pathname}_${suffix}`; // concert_test_<run>_<suffix>: dropped by global-teardown
  return url.toString();
}

/** The SQLSTATE of a refused statement, with the constraint that refused it when there is one. */
async function pgError(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    const { code, constraint } = err as { code?: string; constraint?: string };
    return constraint ? `${code} ${constraint}` : code;
  }
}

describe("schema: entities, migrations, upgrade path", () => {
  const opened: Array<{ orm: MikroORM; pg: Client }> = [];
  afterAll(async () => {
    for (const { orm, pg } of opened) {
      await pg.end();
      await orm.close(true);
    }
  });

  async function open(suffix: string): Promise<{ orm: MikroORM; pg: Client }> {
    const url = databaseUrl(suffix);
    const orm = await initOrm(url, 2);
    const pg = new Client({ connectionString: url });
    await pg.connect();
    opened.push({ orm, pg });
    return { orm, pg };
  }

  it("builds from the migrations exactly the schema the entities declare", async () => {
    const { orm } = await open("fresh");
    const applied = await orm.getMigrator().up();
    expect(applied.map((m) => m.name)).toEqual(migrationsList.map((m) => m.name));
    expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe("");
  });

  it("rolls the wave-2 migration back to the v1 schema and forward again", async () => {
    const { orm, pg } = await open("roundtrip");
    const migrator = orm.getMigrator();
    await migrator.up();
    await migrator.down();
    const v1Seat = await pg.query("select column_name from information_schema.columns where table_name = 'seat' order by ordinal_position");
    expect(v1Seat.rows.map((r) => r.column_name)).toEqual(["id", "schedule_id", "number", "price", "status"]);
    expect((await pg.query("select to_regclass('queue_control') as t")).rows).toEqual([{ t: null }]);
    await migrator.up();
    expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe("");
  });

  it("upgrades a wave-1 database with its data, then enforces the wave-2 constraints", async () => {
    const { orm, pg } = await open("upgrade");
    const migrator = orm.getMigrator();
    await migrator.up({ to: LAST_V1_MIGRATION });
    expect((await migrator.getPendingMigrations()).length).toBe(1);

    // Wave-1 data as v1 wrote it: seats numbered 1..n per schedule, a paid reservation, a ledger.
    await pg.query("insert into concert (id, title, venue) values (1, 'V1 Concert', 'Old Hall')");
    await pg.query("insert into schedule (id, concert_id, starts_at, total_seats) values (1, 1, '2027-01-01T10:00:00Z', 3)");
    await pg.query("insert into seat (id, schedule_id, number, price, status) values (1, 1, 1, 150000, 'SOLD'), (2, 1, 2, 80000, 'AVAILABLE'), (3, 1, 3, 80000, 'HELD')");
    await pg.query(`insert into reservation (id, user_id, concert_id, schedule_id, status, amount, expires_at)
                    values (1, 'alice', 1, 1, 'CONFIRMED', 150000, now()), (2, 'bob', 1, 1, 'HELD', 80000, now() + interval '5 minutes')`);
    await pg.query("insert into reservation_seat (reservation_id, seat_id, number, price, live) values (1, 1, 1, 150000, true), (2, 3, 3, 80000, true)");
    await pg.query("insert into wallet (user_id, balance) values ('alice', 50000)");
    await pg.query(`insert into ledger_entry (user_id, type, amount, balance_after, idempotency_key, payment_id)
                    values ('alice', 'CHARGE', 200000, 200000, 'charge-key-1', null), ('alice', 'USE', 150000, 50000, null, 1)`);
    await pg.query("insert into payment (id, reservation_id, user_id, amount, idempotency_key) values (1, 1, 'alice', 150000, 'pay-key-001')");
    for (const table of ["concert", "schedule", "seat", "reservation", "payment"]) {
      await pg.query(`select setval('${table}_id_seq', (select max(id) from ${table}))`);
    }

    const applied = await migrator.up();
    expect(applied.map((m) => m.name)).toEqual([migrationsList[migrationsList.length - 1].name]);
    expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe("");

    // The rows survived: v1 seats are section A, row 1, same numbers; windows open now.
    const seats = await pg.query("select id, section, row_label, number, price, status from seat order by id");
    expect(seats.rows).toEqual([
      { id: 1, section: "A", row_label: "1", number: 1, price: 150000, status: "SOLD" },
      { id: 2, section: "A", row_label: "1", number: 2, price: 80000, status: "AVAILABLE" },
      { id: 3, section: "A", row_label: "1", number: 3, price: 80000, status: "HELD" },
    ]);
    const concert = await pg.query("select title, queue_opens_at, sale_opens_at from concert");
    expect(concert.rows).toEqual([{ title: "V1 Concert", queue_opens_at: null, sale_opens_at: null }]);
    const payment = await pg.query("select status, refunded_at from payment");
    expect(payment.rows).toEqual([{ status: "COMPLETED", refunded_at: null }]);
    expect((await pg.query("select count(*)::int as n from ledger_entry")).rows[0].n).toBe(2);
    expect((await pg.query("select count(*)::int as n from reservation_seat where live")).rows[0].n).toBe(2);

    // Seats: unique per (schedule, section, row, number), no longer per (schedule, number).
    expect(await pgError(pg.query("insert into seat (schedule_id, section, row_label, number, price) values (1, 'A', '1', 2, 1)"))).toBe(
      "23505 seat_schedule_section_row_number_uq",
    );
    await pg.query("insert into seat (schedule_id, section, row_label, number, price) values (1, 'A', '2', 2, 1), (1, 'B', '1', 2, 1)");
    expect(await pgError(pg.query("insert into seat (schedule_id, number, price) values (1, 9, 1)"))).toBe("23502"); // section required
    // Still one live reservation per seat.
    expect(await pgError(pg.query("insert into reservation_seat (reservation_id, seat_id, number, price) values (2, 1, 1, 1)"))).toBe("23505 reservation_seat_live_uq");

    // Sale windows: the sale may not open before the queue.
    expect(await pgError(pg.query("update concert set queue_opens_at = '2027-01-02Z', sale_opens_at = '2027-01-01Z'"))).toBe(
      "23514 concert_sale_after_queue_check",
    );
    await pg.query("update concert set queue_opens_at = '2027-01-01Z', sale_opens_at = '2027-01-01Z'");

    // Refund statuses exist; anything else is still refused.
    await pg.query("update reservation set status = 'REFUNDED' where id = 1");
    await pg.query("update payment set status = 'REFUNDED', refunded_at = now() where id = 1");
    expect(await pgError(pg.query("update reservation set status = 'REVOKED' where id = 1"))).toBe("23514 reservation_status_check");
    expect(await pgError(pg.query("update payment set status = 'VOID' where id = 1"))).toBe("23514 payment_status_check");
    // One REFUND ledger entry per payment; amounts stay positive, balances non-negative.
    await pg.query("insert into ledger_entry (user_id, type, amount, balance_after, payment_id) values ('alice', 'REFUND', 150000, 200000, 1)");
    expect(await pgError(pg.query("insert into ledger_entry (user_id, type, amount, balance_after, payment_id) values ('alice', 'REFUND', 150000, 350000, 1)"))).toBe("23505 ledger_entry_refund_payment_uq");
    expect(await pgError(pg.query("insert into ledger_entry (user_id, type, amount, balance_after) values ('alice', 'BONUS', 1, 1)"))).toBe("23514 ledger_entry_type_check");
    expect(await pgError(pg.query("insert into ledger_entry (user_id, type, amount, balance_after) values ('alice', 'REFUND', 0, 1)"))).toBe("23514 ledger_entry_amount_check");
    expect(await pgError(pg.query("update wallet set balance = -1"))).toBe("23514 wallet_balance_check");

    // queue_control: defaults, positive settings only, gone with its concert.
    await pg.query("insert into queue_control (concert_id) values (1)");
    const control = await pg.query("select paused, admit_batch, admit_interval_ms, active_max, updated_at is not null as stamped from queue_control");
    expect(control.rows).toEqual([{ paused: false, admit_batch: null, admit_interval_ms: null, active_max: null, stamped: true }]);
    for (const column of ["admit_batch", "admit_interval_ms", "active_max"]) {
      expect(await pgError(pg.query(`update queue_control set ${column} = 0`))).toBe(`23514 queue_control_${column}_check`);
    }
    expect(await pgError(pg.query("insert into queue_control (concert_id) values (999)"))).toBe("23503 queue_control_concert_id_fkey");
    await pg.query("insert into concert (id, title, venue) values (2, 'Gone', 'Hall')");
    await pg.query("insert into queue_control (concert_id, paused) values (2, true)");
    await pg.query("delete from concert where id = 2");
    expect((await pg.query("select concert_id from queue_control")).rows).toEqual([{ concert_id: 1 }]);
  });
});
