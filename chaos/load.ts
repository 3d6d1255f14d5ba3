/**
 * Bounded load: distinct buyers doing the real journey through the gateway — dev-token → charge →
 * enter queue → poll until ACTIVE → seat map → hold 1–2 seats (some contended) → pay with an
 * Idempotency-Key — started at a steady rate, at most `maxInFlight` at once, each step retried after
 * a 5xx/timeout as a real client would (the payment with the same key).
 */
import { RecordingClient, retryable, type Answer } from "./http";
import { sleep } from "./procs";

export interface LoadPlan {
  concertId: number;
  schedules: Array<{ id: number }>;
  /** ms between two journey starts. */
  arrivalMs: number;
  maxInFlight: number;
  userPrefix: string;
  pollMs: number;
  /** A journey gives up after this long (bounded in time). */
  journeyDeadlineMs: number;
}

class Abandon extends Error {}

type Seat = { id: number; status: string };

export class Load {
  started = 0;
  paid = 0;
  abandoned = 0;
  readonly reasons: Record<string, number> = {};
  private running = false;
  private loop?: Promise<void>;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly client: RecordingClient,
    private readonly plan: LoadPlan,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        if (this.inFlight.size < this.plan.maxInFlight) {
          const index = this.started++;
          const journey = this.journey(index)
            .then(() => void this.paid++)
            .catch((err: Error) => {
              this.abandoned++;
              const reason = err instanceof Abandon ? err.message : `client: ${err.message}`;
              this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
            })
            .finally(() => this.inFlight.delete(journey));
          this.inFlight.add(journey);
        }
        await sleep(this.plan.arrivalMs);
      }
    })();
  }

  /** Stops starting journeys and waits for those in flight (each is bounded by its deadline). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  /** One step, retried while the answer is retryable (pause: Retry-After, at most 1 s). */
  private async step(deadline: number, name: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
    for (;;) {
      const answer = await this.client.request(name, method, path, headers, body);
      if (!retryable(answer)) return answer;
      if (Date.now() > deadline) throw new Abandon(`deadline in ${name} (${answer.status} ${answer.type ?? ""})`);
      const hinted = Number(answer.retryAfter);
      await sleep(Number.isFinite(hinted) && hinted > 0 ? Math.min(hinted * 1000, 1000) : 250);
    }
  }

  private async journey(index: number): Promise<void> {
    const deadline = Date.now() + this.plan.journeyDeadlineMs;
    const userId = `${this.plan.userPrefix}${index}`;
    const c = this.plan.concertId;
    const token = await this.step(deadline, "dev-token", "POST", "/auth/dev-token", {}, { userId });
    if (token.status !== 200) throw new Abandon(`dev-token ${token.status}`);
    const auth = { authorization: `Bearer ${token.body.accessToken}` };
    const charge = await this.step(deadline, "charge", "POST", "/points/charge", { ...auth, "idempotency-key": `charge-${userId}` }, { amount: 1_000_000 });
    if (charge.status !== 200) throw new Abandon(`charge ${charge.status} ${charge.type}`);
    let schedule = this.plan.schedules[index % this.plan.schedules.length];
    for (let entries = 0; entries < 4; entries++) {
      const headers = { ...auth, "x-queue-token": await this.waitActive(deadline, auth, c) };
      for (let tries = 0; tries < 4; tries++) {
        const map = await this.step(deadline, "seat-map", "GET", `/schedules/${schedule.id}/seats`, headers);
        if (map.status === 403) break; // no longer ACTIVE (e.g. queue state lost with Redis): enter again
        if (map.status !== 200) throw new Abandon(`seat-map ${map.status} ${map.type}`);
        const free = (map.body as Seat[]).filter((s) => s.status === "AVAILABLE");
        if (free.length === 0) {
          schedule = this.plan.schedules[(this.plan.schedules.indexOf(schedule) + 1) % this.plan.schedules.length];
          continue;
        }
        // A third of the buyers go for the first free seats, where they collide with each other.
        const pool = index % 3 === 0 ? free.slice(0, 3) : free;
        const want = Math.min(pool.length, 1 + (index % 2));
        const seatIds = [...pool].sort(() => Math.random() - 0.5).slice(0, want).map((s) => s.id);
        const hold = await this.step(deadline, "hold", "POST", "/reservations", headers, { scheduleId: schedule.id, seatIds });
        if (hold.status === 409 && hold.type === "SEAT_UNAVAILABLE") continue;
        if (hold.status === 403) break;
        if (hold.status !== 201) throw new Abandon(`hold ${hold.status} ${hold.type}`);
        const pay = await this.step(deadline, "pay", "POST", "/payments", { ...headers, "idempotency-key": `pay-${userId}-${hold.body.id}` }, { reservationId: hold.body.id });
        if (pay.status === 200 || pay.status === 201) return;
        throw new Abandon(`pay ${pay.status} ${pay.type}`);
      }
    }
    throw new Abandon("no seat after retries");
  }

  /** Enter the queue (again) and poll until ACTIVE; returns the queue token. */
  private async waitActive(deadline: number, auth: Record<string, string>, concertId: number): Promise<string> {
    const entry = await this.step(deadline, "enter-queue", "POST", `/concerts/${concertId}/queue`, auth);
    if (entry.status !== 200 && entry.status !== 201) throw new Abandon(`enter-queue ${entry.status} ${entry.type}`);
    const token = entry.body.token as string;
    let status = entry.body.status as string;
    while (status !== "ACTIVE") {
      if (Date.now() > deadline) throw new Abandon("deadline in queue");
      await sleep(this.plan.pollMs);
      const poll = await this.step(deadline, "queue-poll", "GET", "/queue/me", { ...auth, "x-queue-token": token });
      if (poll.status === 401 || poll.body?.status === "EXPIRED") return this.waitActive(deadline, auth, concertId);
      if (poll.status !== 200) throw new Abandon(`queue-poll ${poll.status} ${poll.type}`);
      status = poll.body.status;
    }
    return token;
  }
}
