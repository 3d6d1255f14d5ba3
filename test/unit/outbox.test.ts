import { ServiceBroker } from "moleculer";
import { EVENT_ID_HEADER, toKafkaMessage } from "../../modules/kafka/outbox";
import { OUTBOX_METRICS, OutboxMetrics } from "../../modules/kafka/outbox-metrics";

describe("toKafkaMessage", () => {
  it("keys by reservation, carries the event id in a header and the payload as JSON", () => {
    const payload = { eventId: "e1", paymentId: 5, reservationId: 42, seatIds: [1, 2] };
    const message = toKafkaMessage({ eventId: "e1", messageKey: "42", payload });
    expect(message).toEqual({ key: "42", value: JSON.stringify(payload), headers: { [EVENT_ID_HEADER]: "e1" } });
    expect(EVENT_ID_HEADER).toBe("event-id");
    expect(JSON.parse(message.value)).toEqual(payload);
  });
});

describe("OutboxMetrics", () => {
  // A broker without transporter, never started: only its metric registry is used.
  const broker = new ServiceBroker({ logger: false, metrics: { enabled: true, reporter: [] } });
  const metrics = new OutboxMetrics(broker);
  const value = (name: string, labels?: Record<string, string>) => broker.metrics.getMetric(name)?.get(labels);

  it("exports the backlog and the age of the oldest unpublished row", () => {
    metrics.backlog({ unpublished: 7, oldestAgeMs: 2500 });
    expect(value(OUTBOX_METRICS.backlog)?.value).toBe(7);
    expect(value(OUTBOX_METRICS.lag)?.value).toBe(2.5);
    metrics.backlog({ unpublished: 0, oldestAgeMs: 0 });
    expect(value(OUTBOX_METRICS.backlog)?.value).toBe(0);
    expect(value(OUTBOX_METRICS.lag)?.value).toBe(0);
  });

  it("observes commit-to-ack latency per published row and counts by path", () => {
    const createdAt = new Date(Date.now() - 1500).toISOString();
    const row = { id: 1, eventId: "e", topic: "payment.completed", messageKey: "1", payload: {}, createdAt };
    metrics.published([row, { ...row, id: 2 }], "relay");
    metrics.published([row], "event");
    metrics.failed("relay");
    const latency = value(OUTBOX_METRICS.latency);
    expect(latency?.count).toBe(3);
    expect(latency?.sum).toBeGreaterThanOrEqual(4.5);
    expect(latency?.sum).toBeLessThan(60);
    expect(value(OUTBOX_METRICS.published, { path: "relay" })?.value).toBe(2);
    expect(value(OUTBOX_METRICS.published, { path: "event" })?.value).toBe(1);
    expect(value(OUTBOX_METRICS.failures, { path: "relay" })?.value).toBe(1);
  });

  it("does nothing when metrics are off", () => {
    const off = new ServiceBroker({ logger: false, metrics: { enabled: false } });
    const quiet = new OutboxMetrics(off);
    expect(() => quiet.backlog({ unpublished: 3, oldestAgeMs: 10 })).not.toThrow();
    expect(off.metrics.getMetric(OUTBOX_METRICS.backlog)).toBeFalsy();
  });
});
