/**
 * The operator's console in headless Chromium (SPEC §10): create a concert and a sectioned
 * performance through the forms, pause its queue (a buyer's page shows them waiting) and resume it,
 * refund the buyer's reservation (the seat turns available), and see the DLQ.
 */
import type { Browser } from "playwright-core";
import type { ServiceBroker } from "moleculer";
import type { DataPlatformStandIn } from "../../modules/data-platform/standin-server";
import { deleteTestTopics } from "../support/kafka-payments";
import { apiUrl, startNode, stopNodes, waitForApiAliases } from "../support/nodes";
import { allServiceSchemas, ensurePagesBuilt, startStandIn, seatStatuses, type Sale } from "../support/pages";
import { launchChromium, openPage, screenshot, type WatchedPage } from "../support/browser";

jest.setTimeout(120_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("operator's console (headless Chromium, real PostgreSQL, Redis, NATS, Kafka)", () => {
  let node: ServiceBroker;
  let standIn: DataPlatformStandIn;
  let browser: Browser;
  let base: string;
  let origin: string;
  let operator: WatchedPage;
  let sale: Sale;
  let boughtSeat: number;
  const pages: WatchedPage[] = [];

  beforeAll(async () => {
    ensurePagesBuilt();
    standIn = await startStandIn();
    node = await startNode(allServiceSchemas(), { nodeID: "pages-admin" });
    base = apiUrl(node);
    origin = base.replace(/\/api$/, "");
    await waitForApiAliases(node, ["catalog.createConcert", "catalog.createSchedule", "queue.updateControls", "payments.refund", "dataPlatform.dlqList"]);
    browser = await launchChromium();
    operator = await openPage(browser, `${origin}/admin`);
    pages.push(operator);
  }, 120_000);

  afterEach(() => {
    // No CSP violation, no uncaught exception on any page so far.
    const problems = pages.flatMap((p) => p.problems.splice(0));
    expect(problems).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await stopNodes(node);
    await standIn?.close();
    await deleteTestTopics();
  }, 60_000);

  const row = () => operator.page.locator(`#queues tr[data-concert="${sale.concertId}"]`);

  it("creates a concert and a sectioned performance from the forms", async () => {
    const { page } = operator;
    await page.locator("#who", { hasText: "Operator" }).waitFor();
    await page.locator("#c-title").fill("Midnight Orchestra");
    await page.locator("#c-venue").fill("Seoul Arts Center");
    await page.locator("#concert-form button[type=submit]").click();
    await page.locator("#notice", { hasText: /^Concert #\d+ created\.$/ }).waitFor();
    const concertId = Number((await page.locator("#notice").textContent())!.match(/#(\d+)/)![1]);

    await page.locator("#s-starts").fill("2027-03-01T19:30");
    await page.locator("#s-sections").fill("VIP,1,4,120000\nR,2,6,80000");
    await page.locator("#schedule-form button[type=submit]").click();
    await page.locator("#notice", { hasText: /^Performance #\d+ created with 16 seats\.$/ }).waitFor();
    const scheduleId = Number((await page.locator("#notice").textContent())!.match(/#(\d+)/)![1]);
    sale = { concertId, scheduleId, title: "Midnight Orchestra" };

    const schedules = await fetch(`${base}/concerts/${concertId}/schedules`).then((r) => r.json());
    expect(schedules).toEqual([expect.objectContaining({ id: scheduleId, totalSeats: 16, startsAt: new Date("2027-03-01T19:30").toISOString() })]);
    await row().waitFor();
    expect(await row().locator('[data-field="phase"]').textContent()).toBe("OPEN");
  });

  it("pauses the queue: the buyer's page shows them waiting until the operator resumes", async () => {
    await row().locator('[data-action="pause"]').click();
    await row().locator('[data-field="phase"]', { hasText: "PAUSED" }).waitFor();
    await screenshot(operator.page, "admin-1-console");

    const buyer = await openPage(browser, `${origin}/`);
    pages.push(buyer);
    const requested: string[] = [];
    buyer.page.on("request", (r) => requested.push(new URL(r.url()).pathname));
    await buyer.page.locator(`[data-schedule="${sale.scheduleId}"]`).click();
    await buyer.page.locator('#queue-status[data-status="WAITING"]', { hasText: "Position 1" }).waitFor();
    // A second buyer whose network drops the stream: the page falls back to polling GET /api/queue/me.
    const poller = await openPage(browser, `${origin}/`, { width: 390, height: 844 });
    pages.push(poller);
    await poller.page.route("**/api/queue/stream*", (route) => route.abort());
    const polled: string[] = [];
    poller.page.on("request", (r) => polled.push(new URL(r.url()).pathname));
    await poller.page.locator(`[data-schedule="${sale.scheduleId}"]`).click();
    await poller.page.locator('#queue-status[data-status="WAITING"]', { hasText: "Position 2" }).waitFor();
    // Several admission intervals (1 s) pass: still waiting, and the console counts them.
    await sleep(3500);
    expect(polled.filter((path) => path === "/api/queue/me").length).toBeGreaterThanOrEqual(1);
    // the console error of the aborted stream is the fault injected here
    expect(poller.problems.splice(0)).toEqual(["Failed to load resource: net::ERR_FAILED"]);
    expect(await buyer.page.locator("#queue-status").getAttribute("data-status")).toBe("WAITING");
    expect(await buyer.page.locator("#step-seats").isHidden()).toBe(true);
    await row().locator('[data-field="waiting"]', { hasText: "2" }).waitFor();
    await screenshot(buyer.page, "buyer-6-waiting-paused");

    await row().locator('[data-action="resume"]').click();
    await buyer.page.locator("#step-seats").waitFor({ state: "visible", timeout: 30_000 });
    // The page followed the queue over the SSE stream (SPEC §8), not by polling.
    expect(requested).toContain("/api/queue/stream");
    expect(requested.filter((path) => path === "/api/queue/me")).toEqual([]);
    await poller.page.locator("#step-seats").waitFor({ state: "visible", timeout: 30_000 });
    await row().locator('[data-field="active"]', { hasText: "2" }).waitFor();

    // The buyer buys one seat of the VIP section.
    const seat = buyer.page.locator("button.seat.available").first();
    boughtSeat = Number(await seat.getAttribute("data-seat"));
    await seat.click();
    await buyer.page.locator("#hold").click();
    await buyer.page.locator("#step-pay").waitFor({ state: "visible" });
    await buyer.page.locator("#charge-form button").click();
    await buyer.page.locator("#balance", { hasText: "120,000 pts" }).waitFor();
    await buyer.page.locator("#pay").click();
    await buyer.page.locator("#step-done").waitFor({ state: "visible" });
  });

  it("refunds the reservation and the seat turns available", async () => {
    const { page } = operator;
    expect((await seatStatuses(node, base, sale, "pages-check-before")).get(boughtSeat)).toBe("SOLD");
    // The console reloads its performance list on its own every 15 s; the form's select has it from creation.
    await page.locator("#r-schedule").selectOption(String(sale.scheduleId));
    await page.locator("#r-status").selectOption("CONFIRMED");
    await page.locator("#res-form button[type=submit]").click();
    const reservation = page.locator("#reservations tr[data-reservation]");
    await reservation.first().waitFor();
    expect(await reservation.count()).toBe(1);
    expect(await reservation.locator("td").nth(4).textContent()).toBe("120,000 pts");
    await reservation.locator('[data-action="refund"]').click();
    await page.locator("#notice", { hasText: "refunded; its seats are available again" }).waitFor();

    await page.locator("#r-status").selectOption("");
    await page.locator("#res-form button[type=submit]").click();
    await page.locator('#reservations [data-field="status"]', { hasText: "REFUNDED" }).waitFor();
    expect(await page.locator('#reservations [data-action="refund"]').count()).toBe(0);
    expect((await seatStatuses(node, base, sale, "pages-check-after")).get(boughtSeat)).toBe("AVAILABLE");

    // A fresh buyer's page shows it available again.
    const next = await openPage(browser, `${origin}/`, { width: 390, height: 844 });
    pages.push(next);
    await next.page.locator(`[data-schedule="${sale.scheduleId}"]`).click();
    await next.page.locator(`[data-seat="${boughtSeat}"].available`).waitFor({ timeout: 30_000 });
  });

  it("lists the DLQ and replays it", async () => {
    const { page } = operator;
    await page.locator("#dlq-refresh").click();
    await page.locator("#dlq td", { hasText: "The DLQ is empty" }).waitFor();
    await page.locator("#dlq-replay").click();
    await page.locator("#notice", { hasText: "0 dead letter(s) replayed." }).waitFor();
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, "admin-2-console-after-refund");
  });

  it("refuses a bearer without the admin role with the 403 message", async () => {
    const { page, context } = await openPage(browser, `${origin}/`);
    const token = await page.evaluate(async () => {
      const r = await fetch("/api/auth/dev-token", { method: "POST", headers: { "content-type": "application/json" }, body: '{"userId":"not-an-operator"}' });
      return ((await r.json()) as { accessToken: string }).accessToken;
    });
    await page.evaluate((t) => sessionStorage.setItem("admin.token", t), token);
    await page.goto(`${origin}/admin`);
    await page.locator("#notice", { hasText: "You are not allowed to do that." }).waitFor();
    expect(await page.locator("#signin").isVisible()).toBe(true);
    await context.close();
  });
});
