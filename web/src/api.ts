/** The pages' HTTP client for /api (same origin) and a tiny DOM helper; no framework. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly data: unknown,
    readonly retryAfterS: number | null,
  ) {
    super(message);
  }
}

export interface CallOptions {
  token?: string | null;
  queueToken?: string | null;
  idempotencyKey?: string;
  body?: unknown;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  retryAfterS: number | null;
}

function retryAfter(headers: Headers): number | null {
  const value = Number(headers.get("retry-after"));
  return Number.isFinite(value) && value > 0 ? value : null;
}

export async function call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.queueToken) headers["x-queue-token"] = options.queueToken;
  if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/api${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch {
    throw new ApiError(0, "NETWORK", "The server cannot be reached.", null, 3);
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    throw new ApiError(response.status, body?.type ?? "HTTP_" + response.status, body?.message ?? response.statusText, body?.data, retryAfter(response.headers));
  }
  return { status: response.status, body: body as T, retryAfterS: retryAfter(response.headers) };
}

/** What a person should read for an error (SPEC §3 types), not the raw body. */
export function friendly(err: unknown): string {
  if (!(err instanceof ApiError)) return "Something went wrong. Please try again.";
  const wait = err.retryAfterS ? ` Try again in ${err.retryAfterS} s.` : " Try again shortly.";
  switch (err.status) {
    case 402:
      return "Not enough points for this payment. Charge points and pay again.";
    case 403:
      return err.type === "QUEUE_NOT_ACTIVE" ? "Your turn in the queue has ended. Join the queue again." : "You are not allowed to do that.";
    case 409:
      if (err.type === "SEAT_UNAVAILABLE") return "Someone else just took one of these seats. Pick others.";
      if (err.type === "HOLD_LIMIT_REACHED") return "You already hold the most seats allowed for this performance.";
      if (err.type === "QUEUE_NOT_OPEN") return "The queue is not open yet.";
      return "That is no longer possible: " + err.message;
    case 410:
      return "Your hold expired and the seats were released. Pick seats again.";
    case 401:
      return "Please sign in again.";
    case 422:
      return "Please check the form: " + err.message;
    case 429:
      return "Too many requests." + wait;
    case 503:
      return "The service is briefly unavailable." + wait;
    case 0:
      return err.message + wait;
    default:
      return err.message || "Something went wrong.";
  }
}

type Child = Node | string | number | null | undefined | false;

/** h("button", { class: "x", onclick }, "Text") */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value as EventListener);
    else if (key in el && key !== "list" && typeof value !== "string") (el as any)[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

/** A random Idempotency-Key (8–128 of [A-Za-z0-9_-]). */
export function newKey(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function show(el: HTMLElement, message: string, kind: "error" | "info" | "ok" = "error"): void {
  el.textContent = message;
  el.className = `notice ${kind}`;
  el.hidden = !message;
}

export const won = (n: number) => n.toLocaleString("en-US") + " pts";
export const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
