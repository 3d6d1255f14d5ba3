import { NO_FAULTS, parseFaults, pickFault } from "../../modules/data-platform/standin-faults";

describe("stand-in faults", () => {
  const id = "0f8fad5b-d9cb-469f-a165-70867728950e";

  it("parses a full body and lower-cases event ids", () => {
    expect(parseFaults({ failRate: 0.5, delayMs: 200, rejectRate: 0.1, rejectEventIds: [id.toUpperCase()], failEventIds: [id] })).toEqual({
      failRate: 0.5,
      delayMs: 200,
      rejectRate: 0.1,
      rejectEventIds: [id],
      failEventIds: [id],
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
    [{ failEventIds: ["not-a-uuid"] }],
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

  it("fails listed ids with 503 and lets the others through", () => {
    const faults = parseFaults({ failEventIds: [id] });
    expect(pickFault(faults, id, () => 0.99)).toBe("fail");
    expect(pickFault(faults, "7c9e6679-7425-40de-944b-e07fc1f90ae7", () => 0)).toBeNull();
  });
});
