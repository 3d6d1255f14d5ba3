import type { Consumer } from "kafkajs";
import { OffsetCommitter } from "../../modules/kafka/offset-committer";

type Offsets = Array<{ topic: string; partition: number; offset: string }>;

/** The one consumer method the committer calls, recording what it was given. */
function recordingConsumer(fail = false): { consumer: Consumer; commits: Offsets[] } {
  const commits: Offsets[] = [];
  const consumer = {
    commitOffsets: async (offsets: Offsets) => {
      commits.push(offsets);
      if (fail) throw new Error("REBALANCE_IN_PROGRESS");
    },
  } as unknown as Consumer;
  return { consumer, commits };
}

const logger = { info: () => undefined, warn: () => undefined, debug: jest.fn() };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("offset committer", () => {
  it("commits each partition's next offset once per interval, in one request", async () => {
    const { consumer, commits } = recordingConsumer();
    const committer = new OffsetCommitter(consumer, logger, 30);
    committer.done("t", 0, "5");
    committer.done("t", 0, "6");
    committer.done("t", 1, "41");
    expect(commits).toEqual([]);
    await sleep(60);
    expect(commits).toEqual([[{ topic: "t", partition: 0, offset: "7" }, { topic: "t", partition: 1, offset: "42" }]]);
    committer.done("t", 0, "7");
    await committer.flush();
    expect(commits[1]).toEqual([{ topic: "t", partition: 0, offset: "8" }]);
    await committer.flush();
    expect(commits).toHaveLength(2);
  });

  it("drops the offsets of partitions that left this member, and swallows a failed commit", async () => {
    const { consumer, commits } = recordingConsumer(true);
    const committer = new OffsetCommitter(consumer, logger, 1000);
    committer.done("t", 0, "1");
    committer.done("t", 1, "9");
    committer.forget((_topic, partition) => partition === 1);
    await expect(committer.flush()).resolves.toBeUndefined();
    expect(commits).toEqual([[{ topic: "t", partition: 1, offset: "10" }]]);
    expect(logger.debug).toHaveBeenCalledWith(expect.stringContaining("REBALANCE_IN_PROGRESS"));
  });
});
