/**
 * `npm run seed` (and `npm start`): migrates, then creates the demo concerts that are missing
 * (idempotent) — only when asked: in development by default, under NODE_ENV=production only with
 * SEED_DEMO=1 (SPEC §11), so a production start never puts demo concerts on sale.
 */
import { getConfig } from "../lib/config";
import { initOrm, migrate } from "../lib/db/orm";
import { seedDemoData } from "../modules/catalog/demo-data";

async function main(): Promise<void> {
  const config = getConfig();
  const orm = await initOrm(config.databaseUrl, 2);
  try {
    await migrate(orm, config.databaseUrl);
    if (!config.seedDemo) {
      console.log(`No demo data (NODE_ENV=${config.nodeEnv}; SEED_DEMO=1 writes it)`);
      return;
    }
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
