/** `npm run migrate`: creates the database if missing and applies pending migrations. */
import { getConfig } from "../lib/config";
import { initOrm, migrate } from "../lib/db/orm";

async function main(): Promise<void> {
  const config = getConfig();
  const orm = await initOrm(config.databaseUrl, 2);
  try {
    const applied = await migrate(orm, config.databaseUrl);
    console.log(applied.length ? `Applied migrations: ${applied.join(", ")}` : "Database schema is up to date");
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
