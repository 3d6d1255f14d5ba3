/**
 * The dead-letter queues from a shell (SPEC §9; the operator API has the same in /api/admin/dlq):
 *   npm run dlq -- list [limit]          letters not replayed yet, newest first (JSON lines)
 *   npm run dlq -- replay [eventId …]    re-publish them (all, or those named) to their main topic
 * The data platform applies each eventId once, so replaying twice applies nothing twice.
 */
import { getConfig } from "../lib/config";
import { KafkaConnection } from "../modules/kafka/kafka-connection";
import { systemTopics } from "../mixins/kafka.mixin";
import { listDeadLetters, replayDeadLetters } from "../modules/data-platform/dead-letters";
import { dataPlatformRoutes } from "../modules/data-platform/data-platform-routes";

const USAGE = "usage: npm run dlq -- list [limit] | replay [eventId …]";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const config = getConfig();
  const topics = dataPlatformRoutes();
  if (command !== "list" && command !== "replay") {
    console.error(USAGE);
    return 2;
  }
  const limit = command === "list" && args[0] !== undefined ? Number(args[0]) : 100;
  if (!Number.isInteger(limit) || limit < 1) {
    console.error(`limit must be a positive integer\n${USAGE}`);
    return 2;
  }
  const bad = command === "replay" ? args.filter((id) => !UUID.test(id)) : [];
  if (bad.length > 0) {
    console.error(`not an eventId (uuid): ${bad.join(", ")}\n${USAGE}`);
    return 2;
  }
  const quiet = { info: () => undefined, debug: () => undefined, warn: (...a: unknown[]) => console.error(...a) };
  const connection = new KafkaConnection(
    { clientId: `${config.kafkaClientId}-dlq-cli`, brokers: config.kafkaBrokers, topics: systemTopics(), partitions: config.kafkaTopicPartitions },
    quiet,
  );
  try {
    if (command === "list") {
      for (const letter of await listDeadLetters(connection, topics, limit)) console.log(JSON.stringify(letter));
    } else {
      const replayed = await replayDeadLetters(connection, topics, args.length > 0 ? args : undefined);
      console.log(JSON.stringify({ replayed: replayed.length, eventIds: replayed }));
    }
    return 0;
  } finally {
    await connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`dlq: ${(err as Error).message}`);
    process.exit(1);
  },
);
