import { Pool } from "pg";
import { ensureDatabase } from "../../lib/db/orm";

/** What the stand-in receives: payments (`POST /reservations`) and refunds (`POST /refunds`). */
export type RecordKind = "reservation" | "refund";

/** Each kind in a table of its own, so a payment and its refund are applied once each. */
const TABLES: Record<RecordKind, string> = { reservation: "data_platform_record", refund: "data_platform_refund" };

/** A record the stand-in applied: the first delivery of its eventId. */
export interface AppliedRecord {
  eventId: string;
  payload: Record<string, unknown>;
  appliedAt: string;
}

/**
 * The stand-in's own storage (PostgreSQL, a table only it uses): applying an eventId is an
 * insert that does nothing the second time, so "applied exactly once" holds across restarts and
 * across several stand-in processes.
 */
export class StandInStore {
  private constructor(private readonly pool: Pool) {}

  static async open(databaseUrl: string): Promise<StandInStore> {
    await ensureDatabase(databaseUrl);
    const pool = new Pool({ connectionString: databaseUrl, max: 5 });
    pool.on("error", () => undefined); // a dropped idle connection surfaces on the next query
    for (const table of Object.values(TABLES)) {
      try {
        await pool.query(`
          create table if not exists ${table} (
            event_id uuid primary key,
            payload jsonb not null,
            applied_at timestamptz not null default clock_timestamp()
          )`);
      } catch (err) {
        // Two processes creating the table at once: the loser sees a duplicate type; the table exists.
        if ((err as { code?: string }).code !== "23505") {
          await pool.end();
          throw err;
        }
      }
    }
    return new StandInStore(pool);
  }

  /** True when this call applied the record, false when the eventId was applied before. */
  async apply(eventId: string, payload: unknown, kind: RecordKind = "reservation"): Promise<boolean> {
    const result = await this.pool.query(
      `insert into ${TABLES[kind]} (event_id, payload) values ($1, $2) on conflict (event_id) do nothing`,
      [eventId, JSON.stringify(payload)],
    );
    return result.rowCount === 1;
  }

  async list(kind: RecordKind = "reservation"): Promise<AppliedRecord[]> {
    // Text or Date depending on the process's pg type parsers (the ORM changes them): normalise.
    const { rows } = await this.pool.query<{ eventId: string; payload: Record<string, unknown>; appliedAt: Date | string }>(
      `select event_id as "eventId", payload, applied_at as "appliedAt" from ${TABLES[kind]} order by applied_at, event_id`,
    );
    return rows.map((row) => ({ ...row, appliedAt: new Date(row.appliedAt).toISOString() }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
