import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261125000000Initial } from "./Migration20261125000000_initial";

/** Listed explicitly so the same list works from TypeScript (tests) and compiled JavaScript. */
export const migrationsList: MigrationObject[] = [
  { name: "Migration20261125000000_initial", class: Migration20261125000000Initial },
];
