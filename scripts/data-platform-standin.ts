/**
 * The data-platform stand-in as its own process (SPEC §4), for local runs and demos:
 *   npm run build && node dist/scripts/data-platform-standin.js
 * Listens on DATA_PLATFORM_PORT (default 4000, all interfaces) and keeps applied records in the
 * `data_platform_record` table of DATABASE_URL.
 */
import { getConfig } from "../lib/config";
import { startDataPlatformStandIn } from "../modules/data-platform/standin-server";

async function main(): Promise<void> {
  const config = getConfig();
  const standIn = await startDataPlatformStandIn({ port: config.dataPlatformPort, host: "0.0.0.0", databaseUrl: config.databaseUrl });
  console.log(`Data-platform stand-in listening on port ${new URL(standIn.url).port}`);
  const shutdown = () => {
    standIn.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
