/**
 * MikroORM CLI configuration (`npm run migration:create`, `npx mikro-orm ...`): the same options as
 * the nodes, plus the schema snapshot the next migration is diffed against.
 */
import { defineConfig } from "@mikro-orm/postgresql";
import { getConfig } from "./lib/config";
import { ormOptions } from "./lib/db/orm";

export default defineConfig(ormOptions(getConfig().databaseUrl, 2, { writeSnapshot: true }));
