import { countThreadsDone, parseWrkCpu, parseWrkJson, requestLine, wrkRunMetrics } from "../../bench/wrk-output";

// What wrk 4.1 printed with bench/wrk-script.ts in a hold-pay run (its own text summary first).
const STDOUT = [
  "Running 30s test @ http://127.0.0.1:18080",
  "  2 threads and 100 connections",
  "WRK_THREAD_DONE",
  "WRK_THREAD_DONE",
  "Requests/sec:     1233.56",
  'WRK_JSON {"durationUs":1504971,"requests":1858,"bytes":406414,"socketErrors":{"connect":0,"read":2,"write":0,"timeout":0},"non2xx":142,' +
    '"latencyUs":{"min":120,"mean":4172.7,"max":73076,"p50":2038,"p90":5158,"p95":8209,"p99":63539,"p999":72903},' +
    '"statuses":{"201":1716,"409":142},"errors":{"409 SEAT_UNAVAILABLE":142},"held":858,"paid":858}',
  "",
].join("\n");

// /proc/<pid>/stat of the shell after it waited for wrk: cutime 123, cstime 77 ticks (fields 16, 17).
const SHELL_STAT = "4242 (sh) S 4200 4242 4200 0 -1 4194560 120 350 0 0 1 2 123 77 20 0 1 0 9999 2822144 227 18446744073709551615";

describe("parseWrkJson", () => {
  it("reads the done() line among wrk's own output", () => {
    const summary = parseWrkJson(STDOUT);
    expect(summary).toMatchObject({ requests: 1858, held: 858, paid: 858, statuses: { "201": 1716, "409": 142 } });
    expect(summary.latencyUs.p99).toBe(63539);
  });

  it("fails with the output's tail when wrk printed no summary", () => {
    expect(() => parseWrkJson("unable to connect to 127.0.0.1:1 Connection refused\n")).toThrow(/no summary:\nunable to connect/);
    expect(() => parseWrkJson('WRK_JSON {"requests":"x"}')).toThrow(/without figures/);
  });
});

describe("wrkRunMetrics", () => {
  it("turns µs into ms, keeps statuses and errors, names socket errors", () => {
    const run = wrkRunMetrics(parseWrkJson(STDOUT));
    expect(run.durationS).toBeCloseTo(1.504971);
    expect(run.rps).toBeCloseTo(1858 / 1.504971);
    expect(run.latency).toEqual({ count: 1858, p50: 2.038, p95: 8.209, p99: 63.539, max: 73.076 });
    expect(run.errors).toEqual({ "409 SEAT_UNAVAILABLE": 142, "socket read": 2 });
    expect(run.statuses).toEqual({ "201": 1716, "409": 142 });
  });

  it("uses the wall-clock time of a run that ended on its own", () => {
    const run = wrkRunMetrics(parseWrkJson(STDOUT), 0.929);
    expect(run.durationS).toBe(0.929);
    expect(run.rps).toBeCloseTo(2000);
  });
});

describe("wrk's CPU and thread markers", () => {
  it("reads wrk's CPU seconds from the waiting shell's children fields", () => {
    expect(parseWrkCpu(`WRK_PID 4243\nWRK_CPU ${SHELL_STAT}\n`)).toBeCloseTo(2.0);
    expect(parseWrkCpu("WRK_PID 4243\n")).toBeNull();
  });

  it("counts the threads that got every answer", () => {
    expect(countThreadsDone(STDOUT)).toBe(2);
    expect(countThreadsDone("WRK_THREAD_DONE\npartial WRK_THREAD_DONE")).toBe(1);
  });
});

describe("requestLine", () => {
  it("joins method, path, body, key and header pairs with tabs", () => {
    expect(requestLine("POST", "/api/reservations", { authorization: "Bearer t", "x-queue-token": "q" }, '{"seatIds":[7]}', "7")).toBe(
      'POST\t/api/reservations\t{"seatIds":[7]}\t7\tauthorization\tBearer t\tx-queue-token\tq',
    );
    expect(requestLine("GET", "/noop", {})).toBe("GET\t/noop\t\t");
  });

  it("refuses fields the line format cannot carry", () => {
    expect(() => requestLine("POST", "/x", { a: "b\tc" })).toThrow(/tabs or line breaks/);
    expect(() => requestLine("POST", "/x", {}, "{\n}")).toThrow(/tabs or line breaks/);
  });
});
