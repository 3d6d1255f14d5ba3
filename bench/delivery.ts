/**
 * Payment → data platform: waits until the stand-in has applied every payment a scenario made and
 * measures, per payment, the time from `paidAt` (payment answer) to the stand-in's `appliedAt`.
 */
import { JsonClient } from "./http-client";
import { sleep } from "./processes";
import type { PaymentMade } from "./scenario";

export interface AppliedRecord {
  eventId: string;
  payload: { paymentId?: number; [key: string]: unknown };
  appliedAt: string;
}

export async function standinRecords(standinUrl: string): Promise<AppliedRecord[]> {
  const client = new JsonClient(standinUrl, 1);
  try {
    const res = await client.request<AppliedRecord[]>("GET", "/reservations", { timeoutMs: 60_000 });
    if (res.status !== 200 || !Array.isArray(res.body)) throw new Error(`stand-in GET /reservations answered ${res.status}`);
    return res.body;
  } finally {
    client.close();
  }
}

export interface DeliveryReport {
  /** ms from paidAt to appliedAt, one per delivered payment. */
  latenciesMs: number[];
  missing: number;
}

/** Polls the stand-in until every payment is applied (or timeoutMs passes). */
export async function awaitDelivery(standinUrl: string, payments: readonly PaymentMade[], timeoutMs = 60_000): Promise<DeliveryReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const applied = new Map<number, string>();
    for (const record of await standinRecords(standinUrl)) {
      if (typeof record.payload?.paymentId === "number") applied.set(record.payload.paymentId, record.appliedAt);
    }
    const latenciesMs: number[] = [];
    let missing = 0;
    for (const payment of payments) {
      const at = applied.get(payment.paymentId);
      if (at === undefined) missing++;
      else latenciesMs.push(Date.parse(at) - Date.parse(payment.paidAt));
    }
    if (missing === 0 || Date.now() > deadline) return { latenciesMs, missing };
    await sleep(250);
  }
}
