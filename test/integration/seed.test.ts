import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Client } from "pg";
import { getConfig } from "../../lib/config";
import { migrationsList } from "../../migrations";
import { DEMO_CONCERTS, DEMO_SCHEDULES_PER_CONCERT } from "../../modules/catalog/demo-data";

/**
 * `npm start` runs the seed script: demo concerts in development, never under
 * NODE_ENV=production unless SEED_DEMO=1 (SPEC §11). Runs the real script in its own process.
 */
const run = promisify(execFile);

function databaseUrl(suffix: string): string {
  const url = new URL(getConfig().databaseUrl);
  url.pathname = `${url.pathname}_${suffix}`; // concert_test_<run>_<suffix>: dropped by global-teardown
  return url.toString();
}

async function seed(suffix: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [require.resolve("ts-node/dist/bin.js"), "-T", "-P", "tsconfig.json", "scripts/seed.ts"],
    { cwd: `${__dirname}/../..`, env: { ...process.env, DATABASE_URL: databaseUrl(suffix), ...env }, timeout: 60_000 },
  );
  return stdout;
}

async function query<T>(suffix: string, sql: string): Promise<T[]> {
  const pg = new Client({ connectionString: databaseUrl(suffix) });
  await pg.connect();
  try {
    return (await pg.query(sql)).rows as T[];
  } finally {
    await pg.end();
  }
}

// Production refuses secrets under 32 bytes.
const production = { NODE_ENV: "production", AUTH_JWT_SECRET: "seed-test-secret-1".padEnd(32, "x"), QUEUE_TOKEN_SECRET: "seed-test-secret-2".padEnd(32, "x") };

describe("demo data only when asked", () => {
  it("writes no concert under NODE_ENV=production, but migrates", async () => {
    const out = await seed("prod", { ...production, SEED_DEMO: "" });
    expect(out).toMatch(/No demo data/);
    expect(await query("prod", "select id from concert")).toEqual([]);
    expect(await query("prod", "select count(*)::int as n from mikro_orm_migrations")).toEqual([{ n: migrationsList.length }]);
  });

  it("writes the demo concerts under NODE_ENV=production with SEED_DEMO=1, through the operator's code path", async () => {
    await seed("prod_demo", { ...production, SEED_DEMO: "1" });
    const concerts = await query<{ title: string; schedules: number; seats: number }>(
      "prod_demo",
      `select c.title, count(distinct s.id)::int as schedules, count(seat.id)::int as seats
         from concert c join schedule s on s.concert_id = c.id join seat on seat.schedule_id = s.id
        group by c.id order by c.id`,
    );
    expect(concerts).toEqual(
      DEMO_CONCERTS.map(({ title }) => ({ title, schedules: DEMO_SCHEDULES_PER_CONCERT, seats: DEMO_SCHEDULES_PER_CONCERT * 50 })),
    );
    // Seats by section and row, as the operator API lays them out.
    const sections = await query("prod_demo", "select section, count(distinct row_label)::int as rows, min(price) as price from seat where schedule_id = 1 group by section order by min(id)");
    expect(sections).toEqual([
      { section: "VIP", rows: 1, price: 150000 },
      { section: "R", rows: 2, price: 110000 },
      { section: "S", rows: 2, price: 80000 },
    ]);
  });

  it("writes them in development by default, once (a second start adds nothing)", async () => {
    expect(await seed("dev", { NODE_ENV: "development", SEED_DEMO: "" })).toMatch(/Seeded 3 demo concerts/);
    expect(await seed("dev", { NODE_ENV: "development", SEED_DEMO: "" })).toMatch(/already present/);
    expect(await query("dev", "select count(*)::int as n from concert")).toEqual([{ n: DEMO_CONCERTS.length }]);
    expect(await seed("dev_off", { NODE_ENV: "development", SEED_DEMO: "0" })).toMatch(/No demo data/);
    expect(await query("dev_off", "select count(*)::int as n from concert")).toEqual([{ n: 0 }]);
  });
});
