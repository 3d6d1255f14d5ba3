/** `npm run seed`: migrates, then creates the demo concerts that are missing (idempotent). */
import { getConfig } from "../lib/config";
import { initOrm, migrate } from "../lib/db/orm";
import { seedDemoData } from "../modules/catalog/demo-data";

async function main(): Promise<void> {
  const config = getConfig();
  const orm = await initOrm(config.databaseUrl, 2);
  try {
    await migrate(orm, config.databaseUrl);
    const created = await seedDemoData(orm.em.fork());
    console.log(created ? `Seeded ${created} demo concerts` : "Demo data already present");
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
