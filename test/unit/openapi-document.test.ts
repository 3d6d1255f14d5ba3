import { ServiceBroker } from "moleculer";
import { objectSchema, ruleToSchema } from "../../lib/openapi/fv-schema";
import { actionsOf, buildOpenApi, openApiPath } from "../../lib/openapi/document";

describe("fastest-validator rules → JSON Schema", () => {
  it("maps numbers, strings, arrays, enums and nullables", () => {
    expect(ruleToSchema({ type: "number", integer: true, positive: true, max: 9, convert: true })).toEqual({ type: "integer", exclusiveMinimum: 0, maximum: 9 });
    expect(ruleToSchema({ type: "number", min: 0, max: 1 })).toEqual({ type: "number", minimum: 0, maximum: 1 });
    expect(ruleToSchema({ type: "string", pattern: /^[A-Za-z0-9_-]{1,64}$/, min: 1 })).toEqual({ type: "string", minLength: 1, pattern: "^[A-Za-z0-9_-]{1,64}$" });
    // a RegExp that travelled as JSON is `{}`: left out rather than documented wrongly
    expect(ruleToSchema({ type: "string", pattern: {} })).toEqual({ type: "string" });
    expect(ruleToSchema({ type: "string", optional: true, nullable: true, max: 40 })).toEqual({ type: ["string", "null"], maxLength: 40 });
    expect(ruleToSchema({ type: "array", min: 1, max: 4, unique: true, items: { type: "number", integer: true } })).toEqual({
      type: "array",
      minItems: 1,
      maxItems: 4,
      uniqueItems: true,
      items: { type: "integer" },
    });
    expect(ruleToSchema({ type: "enum", values: ["HELD", "CONFIRMED"] })).toEqual({ enum: ["HELD", "CONFIRMED"] });
    expect(ruleToSchema({ type: "uuid" })).toEqual({ type: "string", format: "uuid" });
    expect(ruleToSchema("number|integer|positive")).toEqual({ type: "integer", exclusiveMinimum: 0 });
    expect(ruleToSchema({ type: "number", default: 20, optional: true })).toEqual({ type: "number", default: 20 });
  });

  it("builds object schemas with required fields, nested props and $$strict", () => {
    const schema = objectSchema({
      $$strict: true,
      title: { type: "string", min: 1 },
      note: { type: "string", optional: true },
      limit: { type: "number", default: 10 },
      sections: { type: "array", items: { type: "object", strict: true, props: { name: "string", rows: { type: "number" } } } },
    });
    expect(schema.required).toEqual(["title", "sections"]);
    expect(schema.additionalProperties).toBe(false);
    expect((schema.properties as any).sections.items).toEqual({
      type: "object",
      properties: { name: { type: "string" }, rows: { type: "number" } },
      required: ["name", "rows"],
      additionalProperties: false,
    });
  });
});

describe("OpenAPI document", () => {
  it("converts :params to {params}", () => {
    expect(openApiPath("/api/concerts/:concertId/schedules")).toEqual({ path: "/api/concerts/{concertId}/schedules", names: ["concertId"] });
  });

  it("splits path, query and body parameters and marks auth, admin and the queue token", async () => {
    // A local broker (no transporter): the registry keeps functions such as queueGuard.
    const broker = new ServiceBroker({ logger: false });
    broker.createService({
      name: "shop",
      actions: {
        list: { rest: "GET /items", params: { limit: { type: "number", optional: true, convert: true } }, handler: () => [] },
        hold: {
          rest: "POST /holds/:itemId",
          auth: "required",
          queueGuard: () => 1,
          params: { itemId: { type: "number", integer: true, convert: true }, seatIds: { type: "array", items: "number" } },
          handler: () => null,
        },
        patch: { auth: "admin", params: { $$strict: true, id: "number", paused: { type: "boolean", optional: true } }, handler: () => null },
        internal: { params: {}, handler: () => null },
      },
    });
    await broker.start();
    try {
      const actions = actionsOf(broker.registry.getServiceList({ withActions: true }) as any);
      const doc = buildOpenApi(
        [
          { method: "GET", path: "/api/items", action: "shop.list" },
          { method: "POST", path: "/api/holds/:itemId", action: "shop.hold" },
          { method: "PATCH", path: "/api/admin/things/:id", action: "shop.patch" },
        ],
        actions,
        { title: "t", version: "1" },
      );
      expect(Object.keys(doc.paths)).toEqual(["/api/admin/things/{id}", "/api/holds/{itemId}", "/api/items"]);
      const list = doc.paths["/api/items"].get as any;
      expect(list.parameters).toEqual([{ name: "limit", in: "query", required: false, schema: { type: "number" } }]);
      expect(list.requestBody).toBeUndefined();
      expect(list.responses["401"]).toBeUndefined();

      const hold = doc.paths["/api/holds/{itemId}"].post as any;
      expect(hold.security).toEqual([{ bearer: [], queueToken: [] }]);
      expect(hold.parameters[0]).toEqual({ name: "itemId", in: "path", required: true, schema: { type: "integer" } });
      expect(hold.requestBody.content["application/json"].schema).toEqual({
        type: "object",
        properties: { seatIds: { type: "array", items: { type: "number" } } },
        required: ["seatIds"],
      });
      expect(hold.responses["403"]).toEqual({ $ref: "#/components/responses/E403" });

      const patch = doc.paths["/api/admin/things/{id}"].patch as any;
      expect(patch.security).toEqual([{ bearer: [] }]);
      expect(patch.requestBody.content["application/json"].schema.additionalProperties).toBe(false);
      expect(patch.requestBody.required).toBe(false);
      expect(JSON.stringify(doc)).not.toContain("shop.internal");
    } finally {
      await broker.stop();
    }
  });

  it("still lists a route whose action the registry does not know yet", () => {
    const doc = buildOpenApi([{ method: "DELETE", path: "/api/x/:id", action: "gone.remove" }], new Map(), { title: "t", version: "1" });
    expect((doc.paths["/api/x/{id}"].delete as any).parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
  });
});
