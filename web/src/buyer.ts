/**
 * The buyer's page (SPEC §10): concerts → waiting room (SSE stream, else polling with Retry-After)
 * → seat map by section and row → hold with a countdown → charge points → pay → confirmation.
 */
import { $, ApiError, call, friendly, h, newKey, show, when, won } from "./api";
import { watchQueueStatus, type QueueStatus } from "./queue-watch";

interface Concert { id: number; title: string; venue: string }
interface Schedule { id: number; concertId: number; startsAt: string; totalSeats: number; availableSeats: number }
interface Seat { id: number; number: number; price: number; status: string; section?: string; row?: string | number }
interface Reservation { id: number; status: string; seats: Array<{ id: number; number: number; price: number }>; amount: number; expiresAt: string }

const MAX_SEATS = 4;
const state = {
  token: "" as string,
  userId: "" as string,
  concert: null as Concert | null,
  schedule: null as Schedule | null,
  queueToken: null as string | null,
  seats: [] as Seat[],
  picked: new Set<number>(),
  reservation: null as Reservation | null,
  stopWatch: () => {},
  countdown: 0 as number,
};

const notice = () => $("notice");
const steps = ["step-list", "step-queue", "step-seats", "step-pay", "step-done"];
function step(id: string): void {
  for (const s of steps) $(s).hidden = s !== id;
  const heading = $(id).querySelector("h2");
  if (heading) (heading as HTMLElement).tabIndex = -1;
  (heading as HTMLElement | null)?.focus();
}
const fail = (err: unknown) => show(notice(), friendly(err));
const clear = () => show(notice(), "");

/** Development sign-in: a dev token for this tab's buyer id (production pages get a token from the IdP). */
async function signIn(): Promise<void> {
  state.userId = sessionStorage.getItem("buyer.userId") ?? "buyer-" + newKey("u").slice(2, 12);
  sessionStorage.setItem("buyer.userId", state.userId);
  const { body } = await call<{ accessToken: string }>("POST", "/auth/dev-token", { body: { userId: state.userId } });
  state.token = body.accessToken;
  $("who").textContent = `Signed in as ${state.userId}`;
}

async function listConcerts(): Promise<void> {
  const box = $("concerts");
  const { body: concerts } = await call<Concert[]>("GET", "/concerts");
  box.replaceChildren();
  if (!concerts.length) box.append(h("p", {}, "No concerts on sale yet."));
  for (const concert of concerts) {
    const card = h("article", { class: "card", "data-concert": concert.id }, h("h3", {}, concert.title), h("p", { class: "muted" }, concert.venue));
    const list = h("ul", { class: "schedules" });
    card.append(list);
    box.append(card);
    call<Schedule[]>("GET", `/concerts/${concert.id}/schedules`)
      .then(({ body }) => {
        if (!body.length) list.append(h("li", { class: "muted" }, "No performances yet"));
        for (const schedule of body) {
          const soldOut = schedule.availableSeats === 0;
          list.append(
            h("li", {},
              h("span", {}, when(schedule.startsAt), " · ", h("span", { class: "muted" }, `${schedule.availableSeats}/${schedule.totalSeats} free`)),
              h("button", { type: "button", disabled: soldOut, "data-schedule": schedule.id, onclick: () => joinQueue(concert, schedule) }, soldOut ? "Sold out" : "Get tickets"),
            ),
          );
        }
      })
      .catch(fail);
  }
}

function renderQueue(s: QueueStatus): void {
  const box = $("queue-box");
  if (s.status === "WAITING") {
    const eta = s.etaSeconds === null ? "" : ` · about ${Math.max(1, Math.round(s.etaSeconds))} s`;
    box.replaceChildren(h("p", { class: "big" }, "You are in the queue"), h("p", { id: "queue-status", "data-status": "WAITING" }, `Position ${s.position}${eta}`));
  } else if (s.status === "PRE_QUEUE") {
    box.replaceChildren(h("p", { class: "big" }, "You are in the pre-queue"), h("p", { id: "queue-status", "data-status": "PRE_QUEUE" }, "When the sale opens, everyone here gets a random place."));
  } else if (s.status === "EXPIRED") {
    box.replaceChildren(
      h("p", { id: "queue-status", "data-status": "EXPIRED" }, "Your place in the queue expired."),
      h("button", { type: "button", onclick: () => state.concert && state.schedule && joinQueue(state.concert, state.schedule) }, "Join again"),
    );
  }
}

function watchQueue(onActive: () => void): void {
  state.stopWatch();
  const stop = watchQueueStatus(state.token, state.queueToken!, {
    status(s) {
      renderQueue(s);
      if (s.status === "ACTIVE") {
        stop();
        onActive();
      } else if (s.status === "EXPIRED") stop();
    },
    error: fail,
  });
  state.stopWatch = stop;
}

async function joinQueue(concert: Concert, schedule: Schedule): Promise<void> {
  clear();
  state.concert = concert;
  state.schedule = schedule;
  try {
    const { body } = await call<QueueStatus & { token: string }>("POST", `/concerts/${concert.id}/queue`, { token: state.token });
    state.queueToken = body.token;
    step("step-queue");
    $("h-queue").textContent = `Waiting room · ${concert.title}`;
    renderQueue(body);
    if (body.status === "ACTIVE") void loadSeats();
    else watchQueue(() => void loadSeats());
  } catch (err) {
    fail(err);
  }
}

/** "Section A · row 1 · seat 3" from the seat map this page loaded. */
function placeOf(id: number, number: number): string {
  const seat = state.seats.find((s) => s.id === id);
  return seat?.section ? `Section ${seat.section} · row ${seat.row} · seat ${number}` : `Seat ${number}`;
}

function seatLabel(seat: Seat): string {
  const where = seat.section ? `Section ${seat.section}, row ${seat.row}, seat ${seat.number}` : `Seat ${seat.number}`;
  return `${where}, ${won(seat.price)}, ${state.picked.has(seat.id) ? "picked" : seat.status.toLowerCase()}`;
}

function renderSeats(): void {
  const map = $("seatmap");
  // A redraw (refresh, pick) keeps the keyboard focus on the same seat.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.seat;
  map.replaceChildren();
  const sections = new Map<string, Map<string, Seat[]>>();
  for (const seat of state.seats) {
    const section = seat.section ?? "Seats";
    const row = String(seat.row ?? "");
    if (!sections.has(section)) sections.set(section, new Map());
    const rows = sections.get(section)!;
    if (!rows.has(row)) rows.set(row, []);
    rows.get(row)!.push(seat);
  }
  for (const [section, rows] of sections) {
    const prices = [...rows.values()].flat().map((seat) => seat.price);
    const block = h("fieldset", { class: "section" }, h("legend", {}, `Section ${section} `, h("span", { class: "muted" }, won(Math.min(...prices)))));
    for (const [row, seats] of rows) {
      const line = h("div", { class: "row", role: "group", "aria-label": `Row ${row}` }, h("span", { class: "row-label" }, row));
      for (const seat of seats.sort((a, b) => a.number - b.number)) {
        const picked = state.picked.has(seat.id);
        line.append(
          h("button", {
            type: "button",
            class: `seat ${picked ? "selected" : seat.status.toLowerCase()}`,
            "data-seat": seat.id,
            "aria-pressed": String(picked),
            "aria-label": seatLabel(seat),
            title: seatLabel(seat),
            disabled: seat.status !== "AVAILABLE",
            onclick: () => togglePick(seat),
          }, seat.number),
        );
      }
      block.append(line);
    }
    map.append(block);
  }
  const total = state.seats.filter((s) => state.picked.has(s.id)).reduce((sum, s) => sum + s.price, 0);
  if (focused) document.querySelector<HTMLElement>(`[data-seat="${focused}"]`)?.focus();
  $("pick-summary").textContent = state.picked.size ? `${state.picked.size} picked · ${won(total)}` : "No seats picked";
  ($("hold") as HTMLButtonElement).disabled = state.picked.size === 0;
}

function togglePick(seat: Seat): void {
  if (state.picked.has(seat.id)) state.picked.delete(seat.id);
  else if (state.picked.size >= MAX_SEATS) return show(notice(), `You can pick up to ${MAX_SEATS} seats.`, "info");
  else state.picked.add(seat.id);
  clear();
  renderSeats();
}

async function loadSeats(): Promise<void> {
  if (!state.schedule) return;
  try {
    const { body } = await call<Seat[]>("GET", `/schedules/${state.schedule.id}/seats`, { token: state.token, queueToken: state.queueToken });
    state.seats = body;
    for (const id of [...state.picked]) if (!body.some((s) => s.id === id && s.status === "AVAILABLE")) state.picked.delete(id);
    if ($("step-seats").hidden) step("step-seats");
    renderSeats();
  } catch (err) {
    fail(err);
  }
}

async function hold(): Promise<void> {
  if (!state.schedule) return;
  clear();
  try {
    const { body } = await call<Reservation>("POST", "/reservations", {
      token: state.token,
      queueToken: state.queueToken,
      body: { scheduleId: state.schedule.id, seatIds: [...state.picked] },
    });
    state.reservation = body;
    state.picked.clear();
    showHold();
  } catch (err) {
    fail(err);
    if (err instanceof ApiError && err.status === 409) void loadSeats();
  }
}

function showHold(): void {
  const r = state.reservation!;
  $("hold-box").replaceChildren(
    h("p", {}, `${state.concert?.title} · ${state.schedule ? when(state.schedule.startsAt) : ""}`),
    h("ul", {}, ...r.seats.map((s) => h("li", {}, `${placeOf(s.id, s.number)} · ${won(s.price)}`))),
    h("p", {}, "Total ", h("strong", { id: "amount" }, won(r.amount))),
  );
  step("step-pay");
  window.clearInterval(state.countdown);
  const tick = () => {
    const left = Math.max(0, Math.round((Date.parse(r.expiresAt) - Date.now()) / 1000));
    $("countdown").textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left === 0) window.clearInterval(state.countdown);
  };
  tick();
  state.countdown = window.setInterval(tick, 1000);
  void refreshBalance();
}

async function refreshBalance(): Promise<void> {
  try {
    const { body } = await call<{ balance: number }>("GET", "/points", { token: state.token });
    $("balance").textContent = won(body.balance);
    const missing = Math.max(0, (state.reservation?.amount ?? 0) - body.balance);
    const input = $("charge-amount") as HTMLInputElement;
    if (!input.value) input.value = String(missing || 10000);
  } catch (err) {
    fail(err);
  }
}

async function charge(event: Event): Promise<void> {
  event.preventDefault();
  const input = $("charge-amount") as HTMLInputElement;
  try {
    const { body } = await call<{ balance: number }>("POST", "/points/charge", { token: state.token, idempotencyKey: newKey("charge"), body: { amount: Number(input.value) } });
    $("balance").textContent = won(body.balance);
    input.value = "";
    show(notice(), `Charged. Balance ${won(body.balance)}.`, "ok");
  } catch (err) {
    fail(err);
  }
}

/** The key is kept per reservation in sessionStorage: a retry after a lost answer replays the same payment. */
async function pay(): Promise<void> {
  const r = state.reservation;
  if (!r) return;
  clear();
  const keyName = `pay-key-${r.id}`;
  const key = sessionStorage.getItem(keyName) ?? newKey("pay");
  sessionStorage.setItem(keyName, key);
  const button = $("pay") as HTMLButtonElement;
  button.disabled = true;
  try {
    const { body } = await call<{ id: number; amount: number; paidAt: string }>("POST", "/payments", {
      token: state.token,
      queueToken: state.queueToken,
      idempotencyKey: key,
      body: { reservationId: r.id },
    });
    sessionStorage.removeItem(keyName);
    window.clearInterval(state.countdown);
    $("confirmation").replaceChildren(
      h("p", { class: "big" }, "Payment complete"),
      h("p", {}, `Booking #${r.id} · payment #${body.id} · ${won(body.amount)}`),
      h("p", {}, `${state.concert?.title} · ${state.schedule ? when(state.schedule.startsAt) : ""}`),
      h("ul", {}, ...r.seats.map((s) => h("li", {}, placeOf(s.id, s.number)))),
    );
    step("step-done");
  } catch (err) {
    fail(err);
    if (err instanceof ApiError && err.status === 402) void refreshBalance();
  } finally {
    button.disabled = false;
  }
}

async function cancelHold(): Promise<void> {
  const r = state.reservation;
  if (!r) return;
  try {
    await call("DELETE", `/reservations/${r.id}`, { token: state.token });
  } catch (err) {
    fail(err);
  }
  state.reservation = null;
  window.clearInterval(state.countdown);
  step("step-seats");
  void loadSeats();
}

async function leaveQueue(): Promise<void> {
  state.stopWatch();
  await call("DELETE", "/queue/me", { token: state.token, queueToken: state.queueToken }).catch(() => undefined);
  state.queueToken = null;
  backToList();
}

function backToList(): void {
  state.reservation = null;
  step("step-list");
  void listConcerts().catch(fail);
}

async function main(): Promise<void> {
  $("hold").addEventListener("click", () => void hold());
  $("pay").addEventListener("click", () => void pay());
  $("cancel-hold").addEventListener("click", () => void cancelHold());
  $("charge-form").addEventListener("submit", (e) => void charge(e));
  $("leave-queue").addEventListener("click", () => void leaveQueue());
  $("again").addEventListener("click", backToList);
  // The seat map follows other buyers while it is open (the API invalidates its cache on each change).
  window.setInterval(() => {
    if (!$("step-seats").hidden && !document.hidden) void loadSeats();
  }, 5000);
  try {
    await signIn();
    await listConcerts();
  } catch (err) {
    fail(err);
  }
}

void main();
