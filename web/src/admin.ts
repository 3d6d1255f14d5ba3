/**
 * The operator's console (SPEC §10, on the operator API of §7): live queues with pause/resume and
 * rates, new concerts and sectioned performances, reservations with refunds, the DLQ and its replay.
 */
import { $, ApiError, call, friendly, h, newKey, show, when, won } from "./api";

interface Concert { id: number; title: string; venue: string }
interface Schedule { id: number; concertId: number; startsAt: string; totalSeats: number; availableSeats: number }
interface QueueView {
  concertId: number; phase: string; paused: boolean; waiting: number; active: number;
  admitBatch: number; admitIntervalMs: number; activeMax: number; admittedLastMinute: number;
}
interface AdminReservation { id: number; userId: string; status: string; seats: Array<{ number: number; section?: string; row?: string }>; amount: number; createdAt: string }
interface DeadLetter { eventId: string; topic: string; reason: string; attempts: number; deadLetteredAt: string }

let token = sessionStorage.getItem("admin.token") ?? "";
let concerts: Concert[] = [];
const editing = new Set<number>();
const notice = () => $("notice");
const fail = (err: unknown) => {
  show(notice(), friendly(err));
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) $("signin").hidden = false;
};
const ok = (message: string) => show(notice(), message, "ok");
const clearNotice = () => show(notice(), "");
const auth = () => ({ token });

/** Development: an operator's dev token; in production (dev-token is 404) paste one from the IdP. */
async function signIn(): Promise<void> {
  if (!token) {
    try {
      const { body } = await call<{ accessToken: string }>("POST", "/auth/dev-token", { body: { userId: "operator", roles: ["admin"] } });
      token = body.accessToken;
    } catch {
      $("signin").hidden = false;
      return;
    }
  }
  sessionStorage.setItem("admin.token", token);
  $("who").textContent = "Operator";
}

/** "2026-12-03T10:00" (local) → ISO-8601 UTC; empty → undefined (open now). */
const isoOf = (value: string) => (value ? new Date(value).toISOString() : undefined);

async function loadConcerts(): Promise<void> {
  concerts = (await call<Concert[]>("GET", "/concerts")).body;
  const select = $("s-concert") as HTMLSelectElement;
  const keep = select.value;
  select.replaceChildren(...concerts.map((c) => h("option", { value: String(c.id) }, `${c.title} (#${c.id})`)));
  if (keep) select.value = keep;
  const schedules = await Promise.all(concerts.map((c) => call<Schedule[]>("GET", `/concerts/${c.id}/schedules`).then((r) => r.body, () => [] as Schedule[])));
  const rs = $("r-schedule") as HTMLSelectElement;
  const keepSchedule = rs.value;
  rs.replaceChildren(
    ...schedules.flat().map((s) => {
      const title = concerts.find((c) => c.id === s.concertId)?.title ?? "";
      return h("option", { value: String(s.id) }, `${title} · ${when(s.startsAt)} (#${s.id}, ${s.availableSeats}/${s.totalSeats} free)`);
    }),
  );
  if (keepSchedule) rs.value = keepSchedule;
}

function queueRow(concert: Concert, q: QueueView): HTMLTableRowElement {
  const input = (name: keyof QueueView, min: number) =>
    h("input", {
      type: "number", min, step: 1, value: String(q[name]), class: "num", "aria-label": `${name} for ${concert.title}`, "data-field": name,
      onfocus: () => editing.add(concert.id), onblur: () => editing.delete(concert.id),
    });
  const batch = input("admitBatch", 1);
  const interval = input("admitIntervalMs", 100);
  const max = input("activeMax", 1);
  const apply = () => patchQueue(concert, { admitBatch: Number(batch.value), admitIntervalMs: Number(interval.value), activeMax: Number(max.value) });
  return h("tr", { "data-concert": concert.id },
    h("th", { scope: "row" }, concert.title),
    h("td", { "data-field": "phase" }, q.paused ? h("span", { class: "badge warn" }, "PAUSED") : h("span", { class: "badge" }, q.phase)),
    h("td", { "data-field": "waiting" }, q.waiting),
    h("td", { "data-field": "active" }, q.active),
    h("td", { "data-field": "admittedLastMinute" }, q.admittedLastMinute),
    h("td", {}, batch), h("td", {}, interval), h("td", {}, max),
    h("td", { class: "nowrap" },
      h("button", { type: "button", class: q.paused ? "" : "warn", "data-action": q.paused ? "resume" : "pause", onclick: () => patchQueue(concert, { paused: !q.paused }) }, q.paused ? "Resume" : "Pause"),
      " ",
      h("button", { type: "button", class: "secondary", "data-action": "apply", onclick: apply }, "Apply rates"),
    ),
  );
}

async function refreshQueues(): Promise<void> {
  const body = $("queues").querySelector("tbody")!;
  const views = await Promise.all(concerts.map((c) => call<QueueView>("GET", `/admin/concerts/${c.id}/queue`, auth()).then((r) => r.body)));
  // A row being edited keeps its inputs; the others are redrawn with the live numbers.
  const rows = concerts.map((c, i) => (editing.has(c.id) ? body.querySelector(`tr[data-concert="${c.id}"]`) : null) ?? queueRow(c, views[i]));
  body.replaceChildren(...rows);
}

async function patchQueue(concert: Concert, patch: Partial<QueueView>): Promise<void> {
  try {
    editing.delete(concert.id);
    await call("PATCH", `/admin/concerts/${concert.id}/queue`, { ...auth(), body: patch });
    ok(`${concert.title}: ${"paused" in patch ? (patch.paused ? "queue paused" : "queue resumed") : "rates changed"}.`);
    await refreshQueues();
  } catch (err) {
    fail(err);
  }
}

async function createConcert(event: Event): Promise<void> {
  event.preventDefault();
  const value = (id: string) => ($(id) as HTMLInputElement).value;
  try {
    const { body } = await call<Concert>("POST", "/admin/concerts", {
      ...auth(),
      body: { title: value("c-title"), venue: value("c-venue"), queueOpensAt: isoOf(value("c-queue")), saleOpensAt: isoOf(value("c-sale")) },
    });
    ok(`Concert #${body.id} created.`);
    ($("concert-form") as HTMLFormElement).reset();
    await loadConcerts();
    ($("s-concert") as HTMLSelectElement).value = String(body.id);
  } catch (err) {
    fail(err);
  }
}

function parseSections(text: string) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, rows, seatsPerRow, price] = line.split(",").map((p) => p.trim());
      return { name, rows: Number(rows), seatsPerRow: Number(seatsPerRow), price: Number(price) };
    });
}

async function createSchedule(event: Event): Promise<void> {
  event.preventDefault();
  const concertId = ($("s-concert") as HTMLSelectElement).value;
  try {
    const { body } = await call<Schedule>("POST", `/admin/concerts/${concertId}/schedules`, {
      ...auth(),
      body: { startsAt: isoOf(($("s-starts") as HTMLInputElement).value), sections: parseSections(($("s-sections") as HTMLTextAreaElement).value) },
    });
    ok(`Performance #${body.id} created with ${body.totalSeats} seats.`);
    await loadConcerts();
  } catch (err) {
    fail(err);
  }
}

async function listReservations(event?: Event): Promise<void> {
  event?.preventDefault();
  const scheduleId = ($("r-schedule") as HTMLSelectElement).value;
  if (!scheduleId) return;
  const status = ($("r-status") as HTMLSelectElement).value;
  try {
    const { body } = await call<AdminReservation[]>("GET", `/admin/schedules/${scheduleId}/reservations${status ? `?status=${status}` : ""}`, auth());
    const tbody = $("reservations").querySelector("tbody")!;
    tbody.replaceChildren(
      ...body.map((r) =>
        h("tr", { "data-reservation": r.id },
          h("td", {}, r.id), h("td", {}, r.userId), h("td", { "data-field": "status" }, r.status),
          h("td", {}, r.seats.map((s) => (s.section ? `${s.section}${s.row}-${s.number}` : String(s.number))).join(", ")),
          h("td", {}, won(r.amount)), h("td", {}, when(r.createdAt)),
          h("td", {}, r.status === "CONFIRMED" ? h("button", { type: "button", class: "warn", "data-action": "refund", onclick: () => refund(r) }, "Refund") : ""),
        ),
      ),
    );
    if (!body.length) tbody.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No reservations")));
  } catch (err) {
    fail(err);
  }
}

async function refund(r: AdminReservation): Promise<void> {
  if (!window.confirm(`Refund reservation #${r.id} (${won(r.amount)}) to ${r.userId}?`)) return;
  try {
    await call("POST", `/admin/reservations/${r.id}/refund`, { ...auth(), idempotencyKey: newKey("refund") });
    ok(`Reservation #${r.id} refunded; its seats are available again.`);
    await listReservations();
  } catch (err) {
    fail(err);
  }
}

async function listDlq(): Promise<void> {
  try {
    const { body } = await call<DeadLetter[]>("GET", "/admin/dlq?limit=100", auth());
    const tbody = $("dlq").querySelector("tbody")!;
    tbody.replaceChildren(
      ...body.map((d) => h("tr", {}, h("td", { class: "mono" }, d.eventId), h("td", {}, d.topic), h("td", {}, d.reason), h("td", {}, d.attempts), h("td", {}, when(d.deadLetteredAt)))),
    );
    if (!body.length) tbody.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "The DLQ is empty")));
  } catch (err) {
    fail(err);
  }
}

async function replayDlq(): Promise<void> {
  try {
    const { body } = await call<{ replayed: number }>("POST", "/admin/dlq/replay", { ...auth(), body: {} });
    ok(`${body.replayed} dead letter(s) replayed.`);
    await listDlq();
  } catch (err) {
    fail(err);
  }
}

async function start(): Promise<void> {
  await signIn();
  try {
    await loadConcerts();
    await refreshQueues();
    await listDlq();
  } catch (err) {
    fail(err);
  }
}

function main(): void {
  $("signin").addEventListener("submit", (e) => {
    e.preventDefault();
    token = ($("admin-token") as HTMLInputElement).value.trim();
    $("signin").hidden = true;
    clearNotice();
    void start();
  });
  $("concert-form").addEventListener("submit", (e) => void createConcert(e));
  $("schedule-form").addEventListener("submit", (e) => void createSchedule(e));
  $("res-form").addEventListener("submit", (e) => void listReservations(e));
  $("dlq-refresh").addEventListener("click", () => void listDlq());
  $("dlq-replay").addEventListener("click", () => void replayDlq());
  void start();
  let lastConcerts = Date.now();
  window.setInterval(() => {
    if (!token || !$("signin").hidden) return;
    const reload = Date.now() - lastConcerts > 15_000 ? loadConcerts().then(() => (lastConcerts = Date.now())) : Promise.resolve();
    reload.then(refreshQueues).catch(fail);
  }, 2000);
}

main();
