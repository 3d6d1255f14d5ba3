import type { IncomingMessage, ServerResponse } from "node:http";
import type { Service, ServiceSchema } from "moleculer";
import { getConfig } from "../lib/config";
import { domainError } from "../lib/errors";
import { rateWindowMs } from "../modules/queue/queue-eta";
import { verifyQueueToken } from "../modules/queue/queue-token";
import { QueueStreamHub, type StreamClient } from "../modules/queue/stream-hub";
import { createSystemRedis, type RedisClient, type RedisMethods } from "./redis.mixin";

export interface QueueStreamMethods {
  /** moleculer-web alias handler of GET /api/queue/stream?queueToken=… (SSE, SPEC §8). */
  serveQueueStream(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
}

interface StreamVars extends RedisMethods {
  queueStreams: QueueStreamHub;
  queueStreamSubscriber: RedisClient;
}

type StreamService = Service & StreamVars & QueueStreamMethods;

/** Tells EventSource how soon to reconnect after the stream ends (ms). */
const RECONNECT_MS = 3000;

function queryToken(req: IncomingMessage): string | null {
  const url = new URL(req.url ?? "/", "http://localhost");
  return url.searchParams.get("queueToken");
}

/**
 * The gateway's queue streams: a subscriber connection of its own (a connection in subscribe mode
 * can send nothing else), opened in started and closed in stopped; ioredis resubscribes after a
 * reconnect, and every stream is then read again (events may have been missed, or Redis may have
 * lost the queue: those streams end with EXPIRED and the client enters again). On a Redis Cluster
 * the subscriber is a Cluster client too: a PUBLISH on any master reaches subscribers on every node.
 */
export function QueueStreamMixin(): Partial<ServiceSchema> {
  return {
    methods: {
      serveQueueStream(this: StreamService, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) {
        const config = getConfig();
        const claims = verifyQueueToken(queryToken(req), config.queueTokenSecret);
        const bearer = (req as IncomingMessage & { $ctx?: { meta?: { user?: { id?: string } | null } } }).$ctx?.meta?.user;
        if (!claims || (bearer?.id && bearer.id !== claims.userId)) {
          next(domainError("QUEUE_TOKEN_INVALID", "Missing, forged, expired or someone else's queue token (queueToken)"));
          return;
        }
        const socket = req.socket;
        const client: StreamClient = {
          userId: claims.userId,
          nonce: claims.nonce,
          concertId: claims.concertId,
          state: null,
          sent: null,
          open: false,
          earlyV: 0,
          write: (chunk) => {
            if (!res.writableEnded) res.write(chunk);
          },
          buffered: () => res.writableLength,
          end: () => {
            if (!res.writableEnded) res.end();
          },
        };
        const hub = this.queueStreams;
        let closed = false;
        res.on("close", () => {
          closed = true;
          hub.disconnect(client);
        });
        hub.connect(client).then(
          () => {
            if (closed) {
              hub.disconnect(client);
              return;
            }
            socket.setNoDelay(true);
            socket.setTimeout(0); // a stream is long by design; keep-alive comments show it is alive
            res.writeHead(200, {
              "Content-Type": "text/event-stream; charset=utf-8",
              "Cache-Control": "no-store, no-transform",
              Connection: "keep-alive",
              "X-Accel-Buffering": "no", // proxies must not buffer the stream
            });
            res.write(`retry: ${RECONNECT_MS}\n\n`);
            hub.start(client);
          },
          (err: unknown) => {
            if (!closed) next(err);
          },
        );
      },
    },
    async started(this: Service) {
      const self = this as StreamService;
      const config = getConfig();
      // Subscribe commands wait for the reconnect rather than fail.
      const subscriber = createSystemRedis({ subscriber: true, connectionName: `queue-streams:${this.broker.nodeID}` });
      subscriber.on("error", () => undefined); // reconnects on its own; the streams keep their keep-alives
      let connectedOnce = false;
      subscriber.on("ready", () => {
        if (connectedOnce) self.queueStreams?.onReconnect();
        connectedOnce = true;
      });
      self.queueStreamSubscriber = subscriber;
      const idleMs = config.queueWaitingIdleS * 1000;
      self.queueStreams = new QueueStreamHub(() => self.redis, subscriber, {
        prefix: config.redisPrefix,
        windowMs: rateWindowMs(config.queueAdmitIntervalMs),
        defaults: { admitIntervalMs: config.queueAdmitIntervalMs, admitBatch: config.queueAdmitBatch },
        keepAliveMs: config.queueStreamKeepAliveMs,
        // Often enough that an open stream keeps its place (a quarter of the idle time), at most 30 s.
        resyncMs: Math.max(250, Math.min(30_000, Math.floor(idleMs / 4))),
        onError: (what, err) => this.logger.warn(`Queue streams: ${what} failed`, err),
      });
    },
    async stopped(this: Service) {
      const self = this as StreamService;
      self.queueStreams?.close();
      await self.queueStreamSubscriber?.quit().catch(() => self.queueStreamSubscriber.disconnect());
    },
  };
}
