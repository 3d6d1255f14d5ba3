import { Migration } from "@mikro-orm/migrations";

/**
 * The outbox relay claims rows with a lease instead of holding a row lock across a Kafka send
 * (SPEC §9), and published rows are purged after OUTBOX_RETENTION_H.
 */
export class Migration20261203000000OutboxLease extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table outbox_event add column claimed_until timestamptz null;`);
    // The purge deletes by age of publication.
    this.addSql(`create index outbox_event_published_at_idx on outbox_event (published_at) where published_at is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists outbox_event_published_at_idx;`);
    this.addSql(`alter table outbox_event drop column if exists claimed_until;`);
  }
}
