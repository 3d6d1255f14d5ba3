import { EntitySchema } from "@mikro-orm/core";
import { Concert } from "../../catalog/models/concert";

/**
 * The operator's live settings of one concert's queue (SPEC §7/§8). A missing row or a null
 * field means "the environment default" (QUEUE_ADMIT_BATCH, QUEUE_ADMIT_INTERVAL_MS, QUEUE_ACTIVE_MAX).
 */
export class QueueControl {
  concertId!: number;
  paused = false;
  admitBatch: number | null = null;
  admitIntervalMs: number | null = null;
  activeMax: number | null = null;
  updatedAt: Date = new Date();
}

export const QueueControlSchema = new EntitySchema<QueueControl>({
  class: QueueControl,
  tableName: "queue_control",
  properties: {
    concertId: {
      kind: "m:1",
      entity: () => Concert,
      mapToPk: true,
      primary: true,
      fieldName: "concert_id",
      foreignKeyName: "queue_control_concert_id_fkey",
      deleteRule: "cascade",
      updateRule: "no action",
    },
    paused: { type: "boolean", default: false },
    admitBatch: { type: "integer", nullable: true, fieldName: "admit_batch" },
    admitIntervalMs: { type: "integer", nullable: true, fieldName: "admit_interval_ms" },
    activeMax: { type: "integer", nullable: true, fieldName: "active_max" },
    updatedAt: { type: "Date", columnType: "timestamptz", fieldName: "updated_at", defaultRaw: "now()" },
  },
  checks: [
    { name: "queue_control_admit_batch_check", expression: "admit_batch > 0" },
    { name: "queue_control_admit_interval_ms_check", expression: "admit_interval_ms > 0" },
    { name: "queue_control_active_max_check", expression: "active_max > 0" },
  ],
});
