import { Client } from "pg";
import Redis from "ioredis";

/** Drops the databases and Redis keys that this jest run's integration test files created. */
export default async function globalTeardown(): Promise<void> {
  const run = process.env.TEST_RUN_PREFIX;
  if (!run || !/^[0-9a-f]+$/.test(run)) return;
  const admin = new URL(process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/concert");
  admin.pathname = "/postgres";
  const pg = new Client({ connectionString: admin.toString() });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ datname: string }>(
      "select datname from pg_database where datname like $1",
      [`concert\\_test\\_${run}\\_%`],
    );
    for (const { datname } of rows) await pg.query(`drop database if exists "${datname}" with (force)`);
  } finally {
    await pg.end();
  }
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `test:${run}_*`, "COUNT", 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
