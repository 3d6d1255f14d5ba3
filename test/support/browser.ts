/**
 * Headless Chromium for the page tests (SPEC §10): Debian's /usr/bin/chromium driven by playwright-core
 * (.ci/run installs it). Each test file gets one browser; each buyer a context (own sessionStorage).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(__dirname, "..", "..", "test-results", "screenshots");
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** playwright's launch() gives the browser a fresh temporary user-data-dir and removes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30_000 });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** console errors and uncaught exceptions: CSP violations land here too */
  problems: string[];
}

export async function openPage(browser: Browser, url: string, viewport = { width: 1280, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems: string[] = [];
  page.on("console", (msg) => {
    // Expected API refusals (4xx) are logged by Chromium as failed resources; the page shows them itself.
    if (msg.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text())) problems.push(msg.text());
  });
  page.on("pageerror", (err) => problems.push(String(err)));
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(url);
  return { page, context, problems };
}

/** test-results/screenshots/<name>.png: the full page, or its top `height` pixels. */
export async function screenshot(page: Page, name: string, fullPage: boolean | { height: number } = true): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  if (typeof fullPage === "object") await page.screenshot({ path, clip: { x: 0, y: 0, width: page.viewportSize()?.width ?? 1280, height: fullPage.height } });
  else await page.screenshot({ path, fullPage });
  return path;
}
