import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceBroker } from "moleculer";
import { actionsOf, buildOpenApi, type RouteInfo } from "./document";

/** moleculer-web's alias objects (the gateway's `this.aliases`), as far as the document needs them. */
export interface GatewayAlias {
  method: string;
  fullPath: string;
  action?: unknown;
}

/**
 * Routes the gateway serves with a handler of its own (no action, so no params schema to read):
 * described here, and documented only while the gateway really routes them.
 */
export const GATEWAY_OPERATIONS: Record<string, Record<string, unknown>> = {
  "GET /api/queue/stream": {
    operationId: "api.queueStream",
    tags: ["queue"],
    summary: "Server-Sent Events of the caller's queue place (SPEC §8)",
    description: "`event: status` with {status, position, etaSeconds, expiresAt} at once and on every change; a comment line at least every 15 s. The signed queue token authenticates it (EventSource cannot send headers).",
    parameters: [{ name: "queueToken", in: "query", required: true, schema: { type: "string" } }],
    security: [{}],
    responses: {
      "200": { description: "The stream", content: { "text/event-stream": { schema: { type: "string" } } } },
      "401": { $ref: "#/components/responses/E401" },
      "429": { $ref: "#/components/responses/E429" },
      "503": { $ref: "#/components/responses/E503" },
    },
  },
};

/** The routes the gateway serves now, with the registry's view of their actions (local or remote). */
export function gatewayOpenApi(broker: ServiceBroker, aliases: GatewayAlias[]) {
  const routes: RouteInfo[] = aliases
    .filter((alias) => typeof alias.action === "string" && alias.method !== "*")
    .map((alias) => ({ method: alias.method, path: alias.fullPath, action: alias.action as string }));
  const services = broker.registry.getServiceList({ withActions: true }) as Array<{ actions?: Record<string, unknown> }>;
  const doc = buildOpenApi(routes, actionsOf(services), { title: "Concert booking API", version: "1.0.0" });
  for (const alias of aliases) {
    const operation = GATEWAY_OPERATIONS[`${alias.method} ${alias.fullPath}`];
    if (!operation || typeof alias.action === "string") continue;
    const path = (doc.paths[alias.fullPath] ??= {});
    path[alias.method.toLowerCase()] = operation;
  }
  return doc;
}

/** GET /api/docs: the Swagger UI page built into dist/public/docs (its scripts are files, not inline). */
export function docsPage(publicDir: string) {
  let html: string | undefined;
  return (_req: IncomingMessage, res: ServerResponse): void => {
    try {
      html ??= readFileSync(join(publicDir, "docs", "index.html"), "utf8");
    } catch {
      res.statusCode = 404;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end("The pages are not built: run npm run build");
      return;
    }
    res.statusCode = 200;
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    res.setHeader("Cache-Control", "no-cache");
    res.end(html);
  };
}
