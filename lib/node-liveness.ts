import { Discoverers } from "moleculer";

export interface LivenessOptions {
  /** How often this node sends a HEARTBEAT (s; Moleculer adds ±0.5 s of jitter per node). */
  heartbeatIntervalS: number;
  /** A remote node silent for longer than this is dropped (ms). */
  nodeTimeoutMs: number;
  /** How often remote nodes are checked (ms). */
  checkIntervalMs?: number;
}

/** A check this much later than planned means this process stalled (ms). */
const STALL_MS = 500;

/**
 * Moleculer's local discoverer with a finer dead-node check (SPEC §11: a dead node is dropped by
 * every other node within 5 s). NATS does not tell clients that another client vanished, so a
 * `kill -9`ed node is only noticed by its missing heartbeats. Moleculer 0.15 keeps the last
 * heartbeat in whole seconds of process.uptime() and checks only every `heartbeatTimeout` seconds,
 * so a 3 s timeout drops a node 4–7 s after its death; here the last sign of life is kept in ms and
 * checked every `checkIntervalMs`, so the bound is nodeTimeoutMs + checkIntervalMs after the last
 * heartbeat. Dropping a node rejects the requests still pending on it at once
 * (transit.removePendingRequestByNodeID → RequestRejectedError), which the retry policy may resend.
 */
export class LivenessDiscoverer extends Discoverers.Local {
  private readonly lastSeen = new Map<string, number>();
  private readonly nodeTimeoutMs: number;
  private readonly checkIntervalMs: number;
  private lastCheckAt?: number;

  constructor(options: LivenessOptions) {
    // heartbeatTimeout is only Moleculer's own (replaced) check period; keep it whole seconds.
    super({ heartbeatInterval: options.heartbeatIntervalS, heartbeatTimeout: Math.max(1, Math.ceil(options.nodeTimeoutMs / 1000)) });
    this.nodeTimeoutMs = options.nodeTimeoutMs;
    this.checkIntervalMs = options.checkIntervalMs ?? 250;
  }

  override startHeartbeatTimers(): void {
    super.startHeartbeatTimers();
    if (!this.checkNodesTimer) return; // heartbeats disabled
    clearInterval(this.checkNodesTimer);
    this.checkNodesTimer = setInterval(() => this.checkRemoteNodes(), this.checkIntervalMs);
    this.checkNodesTimer.unref();
  }

  override heartbeatReceived(nodeID: string, payload: Record<string, any>): void {
    this.lastSeen.set(nodeID, performance.now());
    super.heartbeatReceived(nodeID, payload);
  }

  override processRemoteNodeInfo(nodeID: string, payload: Record<string, any>) {
    this.lastSeen.set(nodeID, performance.now());
    return super.processRemoteNodeInfo(nodeID, payload);
  }

  override checkRemoteNodes(): void {
    if ((this as unknown as { opts: { disableHeartbeatChecks?: boolean } }).opts.disableHeartbeatChecks) return;
    const now = performance.now();
    // After a stall of this process (event loop blocked), timers run before the heartbeats that
    // queued up meanwhile are read: the silence was ours, so it does not count against the peers.
    const late = this.lastCheckAt === undefined ? 0 : now - this.lastCheckAt - this.checkIntervalMs;
    this.lastCheckAt = now;
    if (late > STALL_MS) {
      for (const [nodeID, seen] of this.lastSeen) this.lastSeen.set(nodeID, seen + late);
      return;
    }
    for (const node of this.registry.nodes.toArray()) {
      if (node.local || !node.available) continue;
      const seen = this.lastSeen.get(node.id);
      if (seen === undefined) {
        this.lastSeen.set(node.id, now); // known only from someone else's INFO so far
        continue;
      }
      if (now - seen > this.nodeTimeoutMs) {
        this.logger.warn(`No heartbeat from '${node.id}' for ${Math.round(now - seen)} ms; dropping it.`);
        this.lastSeen.delete(node.id);
        this.registry.nodes.disconnected(node.id, true);
      }
    }
  }
}
