import type { Context, ServiceSchema } from "moleculer";
import { OrmMixin, type OrmMethods } from "../mixins/orm.mixin";
import { getConcert, listConcerts } from "../modules/catalog/catalog-queries";

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
    /** Internal: one concert, or 404 CONCERT_NOT_FOUND (used by queue, ranking). */
    getConcert: {
      params: { concertId: { type: "number", integer: true, positive: true, convert: true } },
      handler(this: OrmMethods, ctx: Context<{ concertId: number }>) {
        return getConcert(this.em(), ctx.params.concertId);
      },
    },
  },
};

export default CatalogService;
