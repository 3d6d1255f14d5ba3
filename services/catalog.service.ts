import type { Context, ServiceSchema } from "moleculer";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { listConcerts } from "../modules/catalog/catalog-queries";

/** Concerts, schedules and seat maps (read side). */
const CatalogService: ServiceSchema<{ rest: string }, Record<string, never>, OrmMethods> = {
  name: "catalog",
  mixins: [OrmMixin()],
  settings: { rest: "/" },
  actions: {
    listConcerts: {
      rest: "GET /concerts",
      params: {},
      handler(this: OrmMethods, _ctx: Context) {
        return listConcerts(this.em());
      },
    },
  },
};

export default CatalogService;
