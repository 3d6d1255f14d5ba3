import type { Service, ServiceSchema } from "moleculer";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { getConfig } from "../lib/config";
import { initOrm, migrate } from "../lib/db/orm";
import { acquireShared, releaseShared } from "../lib/shared-resource";

export interface OrmMethods {
  orm: MikroORM;
  /** A fresh, request-scoped EntityManager (never the global one). */
  em(): EntityManager;
}

const ORM_RESOURCE = "mikro-orm";

/**
 * Gives a service the broker's shared MikroORM. The first service to start opens it (creating the
 * database if missing and applying migrations); the last one to stop closes it.
 */
export function OrmMixin(): Partial<ServiceSchema> {
  return {
    methods: {
      em(this: Service & OrmMethods): EntityManager {
        return this.orm.em.fork();
      },
    },
    async started(this: Service) {
      const self = this as Service & OrmMethods;
      const config = getConfig();
      self.orm = await acquireShared(
        this.broker,
        ORM_RESOURCE,
        async () => {
          const orm = await initOrm(config.databaseUrl, config.dbPoolMax);
          const applied = await migrate(orm, config.databaseUrl);
          if (applied.length > 0) this.logger.info("Applied migrations:", applied.join(", "));
          return orm;
        },
        (orm) => orm.close(true),
      );
    },
    async stopped(this: Service) {
      await releaseShared(this.broker, ORM_RESOURCE);
    },
  };
}
