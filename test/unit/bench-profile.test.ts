import { ownerOf, summarize } from "../../bench/profile-summary";

describe("profile-summary", () => {
  it("attributes a frame to its npm package, Node internals or the project file", () => {
    expect(ownerOf("file:///w/node_modules/moleculer/src/service-broker.js", "call")).toBe("moleculer");
    expect(ownerOf("file:///w/node_modules/@mikro-orm/core/index.js", "x")).toBe("@mikro-orm/core");
    expect(ownerOf("node:internal/crypto/keys", "createPublicKey")).toBe("(node) internal");
    expect(ownerOf("file:///w/dist/services/queue.service.js", "enter")).toBe("(project) services/queue.service.js");
    expect(ownerOf("", "(garbage collector)")).toBe("(garbage collector)");
    expect(ownerOf("", "writeBuffer")).toBe("(native)");
  });

  const profile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: 0 }, children: [2, 3] },
      { id: 2, callFrame: { functionName: "verify", url: "file:///w/node_modules/jsonwebtoken/verify.js", lineNumber: 20 } },
      { id: 3, callFrame: { functionName: "enter", url: "file:///w/dist/services/queue.service.js", lineNumber: 9 } },
    ],
    // 3 ms in verify, then 1 ms in enter, then 2 ms in verify (time deltas in µs).
    samples: [2, 2, 2, 3, 2, 2],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
  };

  it("adds up self time per function and per owner", () => {
    const { totalMs, byFunction, byOwner } = summarize(profile);
    expect(totalMs).toBe(6);
    expect(byOwner.get("jsonwebtoken")).toBe(5);
    expect(byOwner.get("(project) services/queue.service.js")).toBe(1);
    expect(byFunction.get("verify jsonwebtoken/verify.js:21")).toBe(5);
  });

  it("keeps only the samples inside a time window", () => {
    const { totalMs, byOwner } = summarize(profile, { fromS: 0.0035, toS: 0.0045 });
    expect(totalMs).toBe(1);
    expect(byOwner.get("(project) services/queue.service.js")).toBe(1);
    expect(byOwner.has("jsonwebtoken")).toBe(false);
  });
});
