import { randomBytes } from "node:crypto";

/** One id per jest run: test files name their databases and Redis keys under it (isolated-env.ts). */
export default async function globalSetup(): Promise<void> {
  process.env.TEST_RUN_PREFIX ??= randomBytes(3).toString("hex");
}
