import type { MikroORM } from "@mikro-orm/postgresql";
import { getConfig } from "../../lib/config";
import { initOrm, migrate } from "../../lib/db/orm";
import { purgePublished, relayBatch, type OutboxRow } from "../../modules/kafka/outbox";
import { fakePayment, insertOutboxRow, outboxState } from "../support/kafka-payments";

const LEASE_MS = 1500;

describe("outbox relay hygiene (real PostgreSQL)", () => {
  let orm: MikroORM;
  const em = () => orm.em.fork();

  beforeAll(async () => {
    // One connection in the pool: a relay that held it across a Kafka send would starve everything else.
    orm = await initOrm(getConfig().databaseUrl, 1);
    await migrate(orm, getConfig().databaseUrl);
  });

  afterAll(async () => {
    await orm?.close(true);
  });

  beforeEach(async () => {
    await em().execute("delete from outbox_event");
  });

  it("holds no connection or row lock while a Kafka send hangs, and a second relay does not take the claimed rows", async () => {
    for (let i = 0; i < 3; i++) await insertOutboxRow(em(), fakePayment(), 10_000);
    let release!: () => void;
    const sent: OutboxRow[][] = [];
    const hanging = relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: 60_000 }, async (rows) => {
      sent.push(rows);
      await new Promise<void>((resolve) => (release = resolve));
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sent).toHaveLength(1);

    // The single pooled connection is free: queries and writes go through while the send hangs.
    const [{ one }] = await em().execute<Array<{ one: number }>>("select 1 as one");
    expect(one).toBe(1);
    const rows = await em().execute<Array<{ id: number }>>("select id from outbox_event for update nowait"); // no row is locked
    expect(rows).toHaveLength(3);
    const second = await relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: 60_000 }, async () => {
      throw new Error("must not be called: the rows are claimed");
    });
    expect(second).toEqual([]);

    release();
    expect(await hanging).toHaveLength(3);
    expect(await outboxState(em())).toEqual({ total: 3, unpublished: 0 });
  });

  it("gives the rows of a relay that died after claiming to another relay once the lease ends", async () => {
    await insertOutboxRow(em(), fakePayment(), 10_000);
    const dead = relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: LEASE_MS }, () => new Promise<void>(() => undefined));
    void dead; // never settles: the process "died" with the send in flight
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: LEASE_MS }, async () => undefined)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 300));
    const taken = await relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: LEASE_MS }, async () => undefined);
    expect(taken).toHaveLength(1);
    expect(await outboxState(em())).toEqual({ total: 1, unpublished: 0 });
  });

  it("releases the claim at once when the send fails, counting the attempt", async () => {
    await insertOutboxRow(em(), fakePayment(), 10_000);
    await expect(
      relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: 60_000 }, async () => {
        throw new Error("Kafka down");
      }),
    ).rejects.toThrow("Kafka down");
    const [row] = await em().execute<Array<{ attempts: number; claimed: boolean }>>(
      "select attempts, claimed_until is not null as claimed from outbox_event",
    );
    expect(row).toEqual({ attempts: 1, claimed: false });
    expect(await relayBatch(em(), { olderThanMs: 1000, limit: 10, leaseMs: 60_000 }, async () => undefined)).toHaveLength(1);
  });

  it("purges only rows published longer ago than the retention", async () => {
    const old = fakePayment();
    const recent = fakePayment();
    const pending = fakePayment();
    for (const payment of [old, recent, pending]) await insertOutboxRow(em(), payment);
    await em().execute("update outbox_event set published_at = now() - interval '73 hours' where event_id = ?", [old.eventId]);
    await em().execute("update outbox_event set published_at = now() - interval '71 hours' where event_id = ?", [recent.eventId]);

    expect(await purgePublished(em(), 72)).toBe(1);
    const left = await em().execute<Array<{ eventId: string }>>('select event_id as "eventId" from outbox_event order by id');
    expect(left.map((r) => r.eventId)).toEqual([recent.eventId, pending.eventId]);
    expect(await purgePublished(em(), 72)).toBe(0);
  });
});
