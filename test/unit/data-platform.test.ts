import type { AttemptResult } from "../../modules/data-platform/data-platform-client";
import { deliverWithRetry, type DeliveryOptions } from "../../modules/data-platform/delivery";
import { NO_FAULTS, parseFaults, pickFault } from "../../modules/data-platform/standin-faults";

const ok: AttemptResult = { verdict: "done", status: 201, detail: "HTTP 201" };
const unavailable: AttemptResult = { verdict: "retry", status: 503, detail: "HTTP 503" };
const timeout: AttemptResult = { verdict: "retry", detail: "no answer within 3000 ms" };
const refused: AttemptResult = { verdict: "reject", status: 422, detail: "HTTP 422" };

/** A delivery whose attempts answer `results` in turn; records the waits and heartbeats. */
function scripted(results: AttemptResult[], overrides: Partial<DeliveryOptions> = {}) {
  const sleeps: number[] = [];
  let heartbeats = 0;
  let attempts = 0;
  const options: DeliveryOptions = {
    maxAttempts: 5,
    backoff: { baseMs: 100, maxMs: 1000 },
    random: () => 0.999999,
    heartbeatEveryMs: 150,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    heartbeat: async () => {
      heartbeats++;
    },
    ...overrides,
  };
  const run = () =>
    deliverWithRetry(async () => {
      const result = results[Math.min(attempts, results.length - 1)];
      attempts++;
      return result;
    }, options);
  return { run, sleeps, heartbeats: () => heartbeats, attempts: () => attempts };
}

describe("deliverWithRetry", () => {
  it("is done after the first success", async () => {
    const delivery = scripted([ok]);
    expect(await delivery.run()).toEqual({ delivered: true, attempts: 1 });
    expect(delivery.sleeps).toEqual([]);
  });

  it("retries 5xx and timeouts with growing waits, heartbeating while it waits", async () => {
    const delivery = scripted([unavailable, timeout, unavailable, ok]);
    expect(await delivery.run()).toEqual({ delivered: true, attempts: 4 });
    // 100, 200 and 400 ms, slept in slices of at most 150 ms with a heartbeat after each
    expect(delivery.sleeps).toEqual([100, 150, 50, 150, 150, 100]);
    expect(delivery.heartbeats()).toBe(6);
  });

  it("gives up after maxAttempts with the last failure", async () => {
    const delivery = scripted([unavailable, unavailable, timeout]);
    const outcome = await delivery.run();
    expect(outcome).toEqual({ delivered: false, reason: "exhausted", attempts: 5, last: timeout });
    expect(delivery.attempts()).toBe(5);
  });

  it("stops at once on a refusal (4xx), without waiting", async () => {
    const delivery = scripted([unavailable, refused, ok]);
    expect(await delivery.run()).toEqual({ delivered: false, reason: "rejected", attempts: 2, last: refused });
    expect(delivery.attempts()).toBe(2);
  });

  it("rejects when aborted, so nothing gets committed", async () => {
    const controller = new AbortController();
    const delivery = scripted([unavailable], {
      signal: controller.signal,
      sleep: async () => controller.abort(new Error("stopping")),
    });
    await expect(delivery.run()).rejects.toThrow("stopping");
    expect(delivery.attempts()).toBe(1);
  });

  it("propagates a failed heartbeat (the group is rebalancing): the message will come again", async () => {
    const delivery = scripted([unavailable, ok], {
      heartbeat: async () => {
        throw new Error("rebalance in progress");
      },
    });
    await expect(delivery.run()).rejects.toThrow("rebalance in progress");
  });
});

describe("stand-in faults", () => {
  const id = "0f8fad5b-d9cb-469f-a165-70867728950e";

  it("parses a full body and lower-cases event ids", () => {
    expect(parseFaults({ failRate: 0.5, delayMs: 200, rejectRate: 0.1, rejectEventIds: [id.toUpperCase()] })).toEqual({
      failRate: 0.5,
      delayMs: 200,
      rejectRate: 0.1,
      rejectEventIds: [id],
    });
  });

  it("treats an empty body as no faults", () => {
    expect(parseFaults({})).toEqual(NO_FAULTS);
  });

  it.each([
    [null],
    [[]],
    ["x"],
    [{ failRate: 1.01 }],
    [{ failRate: "0.5" }],
    [{ rejectRate: -1 }],
    [{ delayMs: -5 }],
    [{ delayMs: 3.5 }],
    [{ delayMs: 10_000_000 }],
    [{ rejectEventIds: "x" }],
    [{ rejectEventIds: ["not-a-uuid"] }],
    [{ failrate: 0.5 }],
  ])("refuses %j", (body) => {
    expect(() => parseFaults(body)).toThrow(RangeError);
  });

  it("rejects listed ids, then draws the reject and fail rates", () => {
    const faults = parseFaults({ failRate: 0.5, rejectRate: 0.2, rejectEventIds: [id] });
    expect(pickFault(faults, id.toUpperCase(), () => 0.99)).toBe("reject");
    const other = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    expect(pickFault(faults, other, () => 0.1)).toBe("reject");
    expect(pickFault(faults, other, () => 0.3)).toBe("fail");
    expect(pickFault(faults, other, () => 0.7)).toBeNull();
    expect(pickFault(NO_FAULTS, other, () => 0)).toBeNull();
  });
});
