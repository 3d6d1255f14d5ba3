/**
 * A gateway node's queue streams (SPEC §8). One Redis subscription per concert that has a stream
 * on this node; every event is applied to the node's clients of that concert in memory
 * (stream-state.ts). Redis is read only in batches: one script call for a concert's clients on
 * connect, after the opening shuffle, after a lost event or reconnect, and every `resyncMs` (which
 * also refreshes their last-seen time: an open stream keeps its place).
 */
import type { RedisClient } from "../../mixins/redis.mixin";
import { queueKeys } from "./queue-keys";
import { STREAM_STATES } from "./stream-scripts";
import { configuredRate } from "./queue-eta";
import type { QueueStatus } from "./queue-store";
import {
  applyStreamEvent,
  clockOfRound,
  parseStreamEvent,
  sseFrame,
  streamView,
  type ConcertClock,
  type StreamPosition,
} from "./stream-state";

/** Clients per script call: bounds one call's time inside Redis. */
const RESYNC_BATCH = 2000;
/** A client whose socket buffers more than this is too slow to follow: it is closed (it reconnects). */
const MAX_BUFFERED_BYTES = 256 * 1024;

export interface StreamClient {
  userId: string;
  nonce: string;
  concertId: number;
  state: StreamPosition | null;
  /** The last payload sent (JSON), to send only changes. */
  sent: string | null;
  /** Headers are out: frames may be written. */
  open: boolean;
  /** Highest event version seen before the first read completed (then a fresh read is due). */
  earlyV: number;
  write(chunk: string): void;
  buffered(): number;
  end(): void;
}

interface ConcertGroup {
  clients: Set<StreamClient>;
  /** Clients that connected in this tick: read together in one script call. */
  arriving: Array<{ client: StreamClient; done: (err?: unknown) => void }>;
  clock: ConcertClock;
  /** Version of the last event received on this node (a lower one means Redis was reset). */
  lastV: number;
  resyncing?: Promise<void>;
  resyncAgain?: boolean;
}

export interface HubOptions {
  prefix: string;
  windowMs: number;
  defaults: { admitIntervalMs: number; admitBatch: number };
  keepAliveMs: number;
  resyncMs: number;
  onError(what: string, err: unknown): void;
}

export class QueueStreamHub {
  private readonly groups = new Map<number, ConcertGroup>();
  private readonly channels = new Map<string, number>();
  private readonly subscribed = new Set<string>();
  private subscriptionOps: Promise<void> = Promise.resolve();
  private keepAliveTimer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;

  constructor(
    private readonly commands: () => RedisClient,
    private readonly subscriber: RedisClient,
    private readonly options: HubOptions,
  ) {
    subscriber.on("message", (channel: string, message: string) => this.onMessage(channel, message));
    this.keepAliveTimer = setInterval(() => this.keepAlive(), options.keepAliveMs);
    this.resyncTimer = setInterval(() => this.resyncAll(true), options.resyncMs);
  }

  stats(): { clients: number; concerts: number; channels: number } {
    let clients = 0;
    for (const group of this.groups.values()) clients += group.clients.size;
    return { clients, concerts: this.groups.size, channels: this.subscribed.size };
  }

  /** Registers a client and reads its state (subscribed first, so no event is missed). */
  async connect(client: StreamClient): Promise<void> {
    let group = this.groups.get(client.concertId);
    if (!group) {
      group = { clients: new Set(), arriving: [], clock: this.defaultClock(), lastV: Number.NEGATIVE_INFINITY };
      this.groups.set(client.concertId, group);
      this.channels.set(this.channelOf(client.concertId), client.concertId);
    }
    group.clients.add(client);
    try {
      await this.syncSubscription(client.concertId);
      await this.readOnArrival(group, client);
    } catch (err) {
      this.disconnect(client);
      throw err;
    }
    if (client.earlyV > (client.state?.v ?? 0)) void this.resync(client.concertId, false);
  }

  /** Sends the client its current state (after its headers went out). */
  start(client: StreamClient): void {
    client.open = true;
    this.push(client, true);
  }

  disconnect(client: StreamClient): void {
    const group = this.groups.get(client.concertId);
    if (!group || !group.clients.delete(client)) return;
    if (group.clients.size === 0) {
      this.groups.delete(client.concertId);
      void this.syncSubscription(client.concertId).catch((err) => this.options.onError("unsubscribe", err));
    }
  }

  /** After the subscriber reconnected: events may have been lost, and Redis may have lost everything. */
  onReconnect(): void {
    for (const group of this.groups.values()) group.lastV = Number.NEGATIVE_INFINITY;
    this.resyncAll(false);
  }

  close(): void {
    clearInterval(this.keepAliveTimer);
    clearInterval(this.resyncTimer);
    for (const group of this.groups.values()) for (const client of group.clients) client.end();
    this.groups.clear();
  }

  private channelOf(concertId: number): string {
    return queueKeys(this.options.prefix, concertId).events;
  }

  private defaultClock(): ConcertClock {
    const { admitIntervalMs, admitBatch } = this.options.defaults;
    return {
      nowMs: Date.now(),
      offsetMs: 0,
      window: { admitted: 0, oldestRoundMs: null },
      rates: { admitIntervalMs, fallbackRate: configuredRate(admitBatch, admitIntervalMs) },
      saleOpensMs: null,
    };
  }

  /** Subscribes or unsubscribes the concert's channel to match whether it has clients; one change at a time. */
  private syncSubscription(concertId: number): Promise<void> {
    const channel = this.channelOf(concertId);
    const op = this.subscriptionOps.then(async () => {
      const wanted = this.groups.has(concertId);
      if (wanted && !this.subscribed.has(channel)) {
        await this.subscriber.subscribe(channel);
        this.subscribed.add(channel);
      } else if (!wanted && this.subscribed.has(channel)) {
        this.subscribed.delete(channel);
        this.channels.delete(channel);
        await this.subscriber.unsubscribe(channel);
      }
    });
    this.subscriptionOps = op.catch(() => undefined);
    return op;
  }

  private onMessage(channel: string, message: string): void {
    const concertId = this.channels.get(channel);
    const group = concertId === undefined ? undefined : this.groups.get(concertId);
    const event = parseStreamEvent(message);
    if (!group || !event || concertId === undefined) return;
    const reset = event.v <= group.lastV;
    group.lastV = event.v;
    if (reset || event.t === "open") {
      void this.resync(concertId, false);
      return;
    }
    if (event.t === "round") group.clock = clockOfRound(event, group.clock.saleOpensMs);
    for (const client of group.clients) {
      if (!client.state) {
        client.earlyV = Math.max(client.earlyV, event.v);
        continue;
      }
      const gap = event.v > client.state.v + 1;
      const next = applyStreamEvent(client.state, client.userId, event);
      if (next === client.state) continue;
      client.state = next;
      this.push(client, false);
      if (gap) void this.resync(concertId, false);
    }
  }

  /** Reads a new client's state, batched with the others arriving in the same tick (a rush costs few calls). */
  private readOnArrival(group: ConcertGroup, client: StreamClient): Promise<void> {
    return new Promise((resolve, reject) => {
      group.arriving.push({ client, done: (err) => (err ? reject(err) : resolve()) });
      if (group.arriving.length > 1) return;
      setImmediate(async () => {
        while (group.arriving.length > 0) {
          const batch = group.arriving.splice(0, RESYNC_BATCH);
          try {
            await this.read(client.concertId, batch.map((a) => a.client), true);
            for (const a of batch) a.done();
          } catch (err) {
            for (const a of batch) a.done(err);
          }
        }
      });
    });
  }

  private resyncAll(touch: boolean): void {
    for (const concertId of this.groups.keys()) void this.resync(concertId, touch);
  }

  /** A fresh read of every client of the concert (one at a time per concert; a request during one runs after it). */
  private resync(concertId: number, touch: boolean): Promise<void> {
    const group = this.groups.get(concertId);
    if (!group) return Promise.resolve();
    if (group.resyncing) {
      group.resyncAgain = true;
      return group.resyncing;
    }
    group.resyncing = (async () => {
      try {
        do {
          group.resyncAgain = false;
          const clients = [...group.clients];
          for (let i = 0; i < clients.length; i += RESYNC_BATCH) await this.read(concertId, clients.slice(i, i + RESYNC_BATCH), touch);
        } while (group.resyncAgain && this.groups.get(concertId) === group);
      } catch (err) {
        this.options.onError("resync", err);
      } finally {
        group.resyncing = undefined;
      }
    })();
    return group.resyncing;
  }

  /** One script call: the states of `clients` (and their last-seen refreshed when `touch`). */
  private async read(concertId: number, clients: StreamClient[], touch: boolean): Promise<void> {
    const k = queueKeys(this.options.prefix, concertId);
    const args = clients.flatMap((client) => [client.userId, client.nonce]);
    const redis = this.commands() as RedisClient & { concertQueueStreamStates?: (...args: Array<string | number>) => Promise<unknown> };
    // EVALSHA (with ioredis's fallback to EVAL): the script text is not sent with every call.
    if (!redis.concertQueueStreamStates) redis.defineCommand("concertQueueStreamStates", { numberOfKeys: 8, lua: STREAM_STATES });
    const reply = (await redis.concertQueueStreamStates!(
      k.waiting, k.active, k.tokens, k.pre, k.seen, k.ver, k.stats, k.opens, this.options.windowMs, touch ? "1" : "0", ...args,
    )) as unknown[];
    const [v, now, admitted, oldest, saleOpens] = reply.slice(0, 5).map(Number);
    const group = this.groups.get(concertId);
    if (group) {
      group.clock = {
        ...group.clock,
        nowMs: now,
        offsetMs: now - Date.now(),
        window: { admitted, oldestRoundMs: oldest < 0 ? null : oldest },
        saleOpensMs: saleOpens < 0 ? null : saleOpens,
      };
    }
    clients.forEach((client, i) => {
      const [status, position, score, exp] = reply.slice(5 + i * 4, 9 + i * 4);
      const waiting = status === "WAITING";
      client.state = {
        status: status as QueueStatus,
        position: Number(position) < 0 ? null : Number(position),
        score: waiting ? Number(score) : null,
        expiresAtMs: Number(exp) < 0 ? null : Number(exp),
        v,
      };
      this.push(client, false);
    });
  }

  /** Writes the client's view if it changed (always when `force`); EXPIRED ends the stream. */
  private push(client: StreamClient, force: boolean): void {
    if (!client.open || !client.state) return;
    const group = this.groups.get(client.concertId);
    const view = streamView(client.state, group?.clock ?? this.defaultClock());
    const json = JSON.stringify(view);
    if (!force && json === client.sent) return;
    if (client.buffered() > MAX_BUFFERED_BYTES) {
      client.end();
      return;
    }
    client.sent = json;
    client.write(sseFrame("status", view));
    if (view.status === "EXPIRED") client.end();
  }

  private keepAlive(): void {
    for (const group of this.groups.values()) {
      for (const client of group.clients) if (client.open) client.write(": keep-alive\n\n");
    }
  }
}
