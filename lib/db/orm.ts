import { MikroORM, type Options } from "@mikro-orm/postgresql";
import { Migrator } from "@mikro-orm/migrations";
import { resolve, sep } from "node:path";
import { Client, types } from "pg";
import { entities } from "./entities";
import { migrationsList } from "../../migrations";

// Money, counts and ledger ids are bigint columns but stay far below 2^53: read them as numbers.
types.setTypeParser(types.builtins.INT8, (value: string) => Number(value));

/** The TypeScript sources of the migrations (also from dist/: the CLI writes sources, never JS). */
const MIGRATIONS_DIR = resolve(__dirname, "../..", __dirname.includes(`${sep}dist${sep}`) ? ".." : ".", "migrations");

/**
 * The entities are the one source of the schema: `npm run migration:create` diffs them against
 * the snapshot (migrations/.snapshot-concert.json, the schema after the newest migration) and
 * writes the next migration. Only that command writes the snapshot (`writeSnapshot`): nodes and
 * tests applying migrations must not, or every database they migrate would rewrite the committed
 * file, concurrently.
 */
export function ormOptions(databaseUrl: string, poolMax: number, { writeSnapshot = false } = {}): Options {
  return {
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: poolMax },
    migrations: {
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: writeSnapshot,
      snapshotName: ".snapshot-concert",
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      emit: "ts",
      silent: true,
    },
    allowGlobalContext: false,
    debug: false,
  };
}

/** Creates the database named in the URL when it does not exist yet (SPEC §6). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`Unsupported database name "${name}"`);
  const admin = new URL(databaseUrl);
  admin.pathname = "/postgres";
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`create database "${name}"`);
      } catch (err) {
        // Another node created it at the same moment.
        if ((err as { code?: string }).code !== "42P04" && (err as { code?: string }).code !== "23505") throw err;
      }
    }
  } finally {
    await client.end();
  }
}

export async function initOrm(databaseUrl: string, poolMax: number): Promise<MikroORM> {
  await ensureDatabase(databaseUrl);
  return MikroORM.init(ormOptions(databaseUrl, poolMax));
}

/**
 * Applies pending migrations; safe when several nodes start at once: a session advisory lock on a
 * connection of its own (outside the ORM pool, which may have a single connection) serialises them.
 */
export async function migrate(orm: MikroORM, databaseUrl: string): Promise<string[]> {
  const lockId = 724_301_119; // arbitrary constant shared by every node of this system
  const lockClient = new Client({ connectionString: databaseUrl });
  await lockClient.connect();
  try {
    await lockClient.query("select pg_advisory_lock($1)", [lockId]);
    const applied = await orm.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await lockClient.end(); // ending the session releases the lock
  }
}
