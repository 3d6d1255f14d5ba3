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

/** The routes the gateway serves now, with the registry's view of their actions (local or remote). */
export function gatewayOpenApi(broker: ServiceBroker, aliases: GatewayAlias[]) {
  const routes: RouteInfo[] = aliases
    .filter((alias) => typeof alias.action === "string" && alias.method !== "*")
    .map((alias) => ({ method: alias.method, path: alias.fullPath, action: alias.action as string }));
  const services = broker.registry.getServiceList({ withActions: true }) as Array<{ actions?: Record<string, unknown> }>;
  return buildOpenApi(routes, actionsOf(services), { title: "Concert booking API", version: "1.0.0" });
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
