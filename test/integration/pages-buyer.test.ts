/**
 * The buyer's page in headless Chromium (SPEC §10) against the whole system on one node: from the
 * concert list to a paid confirmation; a second buyer (phone width) sees those seats taken, and a
 * seat taken under their fingers gives the 409 message.
 */
import type { Browser } from "playwright-core";
import type { ServiceBroker } from "moleculer";
import type { DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { deleteTestTopics } from "../support/kafka-payments";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { devToken, request } from "../support/http";
import { activeQueueToken } from "../support/queue";
import { allServiceSchemas, createSale, ensurePagesBuilt, startStandIn, seatStatuses, type Sale } from "../support/pages";
import { launchChromium, openPage, screenshot, type WatchedPage } from "../support/browser";

jest.setTimeout(120_000);

describe("buyer's page (headless Chromium, real PostgreSQL, Redis, NATS, Kafka)", () => {
  let node: ServiceBroker;
  let standIn: DataPlatformStandIn;
  let browser: Browser;
  let base: string;
  let origin: string;
  let sale: Sale;
  let firstBuyerSeats: number[] = [];
  const pages: WatchedPage[] = [];

  beforeAll(async () => {
    ensurePagesBuilt();
    standIn = await startStandIn();
    node = await startNode(allServiceSchemas(), { nodeID: "pages-buyer" });
    base = apiUrl(node);
    origin = base.replace(/\/api$/, "");
    await waitForApiAliases(node, ["catalog.listConcerts", "reservations.create", "payments.create", "queue.enter", "points.charge"]);
    const admin = await devToken(base, "pages-admin", ["admin"]);
    sale = await createSale(base, admin, "Aurora Live in Seoul", [
      { name: "A", rows: 2, seatsPerRow: 8, price: 55_000 },
      { name: "B", rows: 2, seatsPerRow: 10, price: 33_000 },
    ]);
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stopNodes(node);
    await standIn?.close();
    await deleteTestTopics();
  }, 60_000);

  afterEach(() => {
    // No CSP violation, no uncaught exception on any page of the test.
    for (const { problems } of pages.splice(0)) expect(problems).toEqual([]);
  });

  async function open(viewport?: { width: number; height: number }): Promise<WatchedPage> {
    const watched = await openPage(browser, `${origin}/`, viewport);
    pages.push(watched);
    return watched;
  }

  /** The list → "Get tickets" → (queue) → seat map. */
  async function reachSeatMap({ page }: WatchedPage): Promise<void> {
    await page.locator(`[data-schedule="${sale.scheduleId}"]`).click();
    await page.locator("#step-seats").waitFor({ state: "visible" });
    await page.locator("[data-seat]").first().waitFor();
  }

  it("takes a buyer from the concert list to a paid confirmation", async () => {
    const buyer = await open();
    const { page } = buyer;
    await page.locator(`[data-concert="${sale.concertId}"]`).waitFor();
    expect(await page.locator(`[data-concert="${sale.concertId}"] h3`).textContent()).toBe("Aurora Live in Seoul");
    await page.locator("#who", { hasText: /^Signed in as buyer-/ }).waitFor();
    await screenshot(page, "buyer-1-list");

    await reachSeatMap(buyer);
    expect(await page.locator(".section legend").allTextContents()).toEqual(["Section A 55,000 pts", "Section B 33,000 pts"]);
    expect(await page.locator("[data-seat]").count()).toBe(36);
    // Picking by keyboard: Tab focus + Enter / Space on the seat buttons.
    const available = page.locator("button.seat.available");
    const ids = [Number(await available.nth(2).getAttribute("data-seat")), Number(await available.nth(3).getAttribute("data-seat"))];
    await page.locator(`[data-seat="${ids[0]}"]`).focus();
    await page.keyboard.press("Enter");
    await page.locator(`[data-seat="${ids[1]}"]`).focus();
    await page.keyboard.press("Space");
    expect(await page.locator('[aria-pressed="true"]').count()).toBe(2);
    expect(await page.locator("#pick-summary").textContent()).toBe("2 picked · 110,000 pts");
    await screenshot(page, "buyer-2-seats", { height: 540 });

    await page.locator("#hold").click();
    await page.locator("#step-pay").waitFor({ state: "visible" });
    expect(await page.locator("#amount").textContent()).toBe("110,000 pts");
    const countdown = await page.locator("#countdown").textContent();
    expect(countdown).toMatch(/^[45]:\d\d$/); // a 300 s hold, counting down
    // Paying without points: the 402 message, and the payment key is kept for the retry.
    await page.locator("#pay").click();
    await page.locator("#notice", { hasText: "Not enough points for this payment" }).waitFor();
    const key = await page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith("pay-key-"))?.[1]);
    expect(key).toMatch(/^pay-[0-9a-f]{24}$/);
    // The charge amount is prefilled with what is missing.
    expect(await page.locator("#charge-amount").inputValue()).toBe("110000");
    await page.locator("#charge-form button").click();
    await page.locator("#balance", { hasText: "110,000 pts" }).waitFor();
    await screenshot(page, "buyer-3-hold");

    await page.locator("#pay").click();
    await page.locator("#step-done").waitFor({ state: "visible" });
    const text = await page.locator("#confirmation").textContent();
    expect(text).toContain("Payment complete");
    expect(text).toContain("110,000 pts");
    await screenshot(page, "buyer-4-confirmation");
    // The key the retry would have used is the one the payment was stored under.
    const rows = await node.call<Array<{ id: number }>, { id: number }>("reservations.listForSchedule", { id: sale.scheduleId });
    expect(rows).toHaveLength(1);
    expect(await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith("pay-key-")))).toEqual([]);

    firstBuyerSeats = ids;
    const statuses = await seatStatuses(node, base, sale, "pages-checker-1");
    expect(ids.map((id) => statuses.get(id))).toEqual(["SOLD", "SOLD"]);
  });

  it("shows a second buyer, on a phone-width screen, the first buyer's seats taken", async () => {
    expect(firstBuyerSeats).toHaveLength(2);
    const buyer = await open({ width: 390, height: 844 });
    const { page } = buyer;
    await reachSeatMap(buyer);
    for (const id of firstBuyerSeats) {
      const seat = page.locator(`[data-seat="${id}"]`);
      await expect(seat.getAttribute("class")).resolves.toBe("seat sold");
      expect(await seat.isDisabled()).toBe(true);
    }
    expect(await page.locator("button.seat.available").count()).toBe(34);
    // Nothing wider than the phone's screen except inside the scrollable seat sections.
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, "buyer-5-second-buyer-phone");

    // A seat someone else holds while it is picked here: 409, the message, and the map refreshed.
    const target = await page.locator("button.seat.available").first().getAttribute("data-seat");
    await page.locator(`[data-seat="${target}"]`).click();
    const rival = "pages-rival";
    const rivalQueue = await activeQueueToken(node, rival, sale.concertId);
    const rivalHold = await request("POST", `${base}/reservations`, {
      token: await devToken(base, rival),
      queueToken: rivalQueue,
      json: { scheduleId: sale.scheduleId, seatIds: [Number(target)] },
    });
    expect(rivalHold.status).toBe(201);
    await page.locator("#hold").click();
    await page.locator("#notice", { hasText: "Someone else just took one of these seats. Pick others." }).waitFor();
    await page.locator(`[data-seat="${target}"].held`).waitFor();
    expect(await page.locator("#hold").isDisabled()).toBe(true);
  });

  it("renders the OpenAPI document at /api/docs under the CSP (Swagger UI from this origin)", async () => {
    const docs = await openPage(browser, `${origin}/api/docs`);
    pages.push(docs);
    await docs.page.locator(".opblock").first().waitFor();
    expect(await docs.page.locator(".opblock").count()).toBeGreaterThan(20);
    expect(await docs.page.locator(".opblock-summary-path", { hasText: "/api/admin/reservations/{id}/refund" }).count()).toBe(1);
    await screenshot(docs.page, "docs-1-swagger", false);
  });
});
