import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261125000000Initial } from "./Migration20261125000000_initial";
import { Migration20261203000000OutboxLease } from "./Migration20261203000000_outbox_lease";
import { Migration20261203070347Wave2OperatingASale } from "./Migration20261203070347_wave2_operating_a_sale";

/** Listed explicitly so the same list works from TypeScript (tests) and compiled JavaScript. */
export const migrationsList: MigrationObject[] = [
  { name: "Migration20261125000000_initial", class: Migration20261125000000Initial },
  { name: "Migration20261203000000_outbox_lease", class: Migration20261203000000OutboxLease },
  { name: "Migration20261203070347_wave2_operating_a_sale", class: Migration20261203070347Wave2OperatingASale },
];
