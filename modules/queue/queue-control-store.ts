/**
 * queue_control in PostgreSQL: the operator's settings survive a Redis flush and are shared by
 * every node. A concert without a row has the defaults.
 */
import type { EntityManager } from "@mikro-orm/postgresql";
import { QueueControl } from "./models/queue-control";
import type { ControlsPatch, StoredControls } from "./queue-control-rules";

function stored(row: QueueControl): StoredControls {
  return { paused: row.paused, admitBatch: row.admitBatch, admitIntervalMs: row.admitIntervalMs, activeMax: row.activeMax };
}

/** The stored controls of the concerts that have a row, in one query. */
export async function loadControls(em: EntityManager, concertIds: readonly number[]): Promise<Map<number, StoredControls>> {
  if (concertIds.length === 0) return new Map();
  const rows = await em.find(QueueControl, { concertId: { $in: [...concertIds] } });
  return new Map(rows.map((row) => [row.concertId, stored(row)]));
}

const COLUMNS: Record<keyof StoredControls, string> = {
  paused: "paused",
  admitBatch: "admit_batch",
  admitIntervalMs: "admit_interval_ms",
  activeMax: "active_max",
};

/**
 * Applies the set fields of `patch` (null resets a number to the default) in one statement, so two
 * operators changing different fields at once both keep their change. Returns the stored row.
 */
export async function saveControls(em: EntityManager, concertId: number, patch: ControlsPatch): Promise<StoredControls> {
  const fields = (Object.keys(COLUMNS) as Array<keyof StoredControls>).filter((field) => patch[field] !== undefined);
  if (fields.length === 0) throw new RangeError("saveControls needs at least one field");
  const columns = fields.map((field) => COLUMNS[field]);
  const [row] = await em.execute<Array<{ paused: boolean; admit_batch: number | null; admit_interval_ms: number | null; active_max: number | null }>>(
    `insert into queue_control (concert_id, ${columns.join(", ")}, updated_at)
     values (?, ${columns.map(() => "?").join(", ")}, now())
     on conflict (concert_id) do update set ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}, updated_at = now()
     returning paused, admit_batch, admit_interval_ms, active_max`,
    [concertId, ...fields.map((field) => patch[field] ?? null)],
  );
  return { paused: row.paused, admitBatch: row.admit_batch, admitIntervalMs: row.admit_interval_ms, activeMax: row.active_max };
}
