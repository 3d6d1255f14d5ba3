import type { ServiceBroker } from "moleculer";
import type { Knex } from "@mikro-orm/postgresql";
import type { OrmMethods } from "../../mixins/orm.mixin";

/**
 * Records every SQL statement that the MikroORM of the given broker nodes sends to PostgreSQL
 * (knex emits "query" right before handing a statement to the pg driver; MikroORM's em.execute,
 * entity queries and transactions all go through it).
 */
export class SqlCounter {
  readonly statements: string[] = [];
  private readonly detachers: Array<() => void> = [];

  constructor(brokers: ServiceBroker[], serviceName = "catalog") {
    for (const broker of brokers) {
      const service = broker.getLocalService(serviceName) as unknown as OrmMethods | undefined;
      if (!service?.orm) throw new Error(`${serviceName} on ${broker.nodeID} has no ORM (not started?)`);
      const knex = service.orm.em.getConnection().getKnex() as Knex;
      const listener = (query: { sql: string }) => this.statements.push(query.sql);
      knex.on("query", listener);
      this.detachers.push(() => knex.removeListener("query", listener));
    }
  }

  /** How many statements were sent (matching `pattern`, when given). */
  count(pattern?: RegExp): number {
    return pattern ? this.statements.filter((sql) => pattern.test(sql)).length : this.statements.length;
  }

  reset(): void {
    this.statements.length = 0;
  }

  stop(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }
}
