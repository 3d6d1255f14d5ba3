/**
 * The OpenAPI 3.1 document of the gateway (SPEC §10), built from what the gateway really routes
 * (moleculer-web's aliases) and the routed actions' schemas in the broker registry (params, auth,
 * queue guard), so nothing is written twice by hand and remote services are included.
 */
import { objectSchema, type JsonSchema } from "./fv-schema";

export interface RouteInfo {
  method: string;
  /** Full path as moleculer-web matches it, e.g. /api/concerts/:concertId/schedules */
  path: string;
  action: string;
}

/** An action as the registry describes it (local, or received from another node as JSON). */
export interface ActionInfo {
  name: string;
  params?: Record<string, unknown>;
  auth?: string;
  /** A function on the node that defines it; dropped when the schema travels as JSON. */
  queueGuard?: unknown;
  /** Serialisable marker of the same requirement. */
  queueToken?: unknown;
  description?: string;
}

type Operation = Record<string, unknown>;

const ERROR_TYPES_BY_STATUS: Record<string, string> = {
  "401": "UNAUTHORIZED, QUEUE_TOKEN_INVALID",
  "403": "FORBIDDEN, QUEUE_NOT_ACTIVE",
  "422": "VALIDATION_ERROR (the failing fields in data)",
  "429": "RATE_LIMITED",
  "500": "INTERNAL_ERROR (data.requestId; never a stack or driver text)",
  "503": "SERVICE_UNAVAILABLE (data.dependency; Retry-After header)",
};

const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

function components(): Record<string, unknown> {
  const retryAfter = { "Retry-After": { description: "Seconds to wait before retrying", schema: { type: "integer" } } };
  return {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "HS256 JWT; `sub` is the user id, `roles` may hold \"admin\"" },
      queueToken: { type: "apiKey", in: "header", name: "X-Queue-Token", description: "An ACTIVE queue token of the concert (POST /api/concerts/{concertId}/queue)" },
    },
    schemas: {
      Error: {
        type: "object",
        description: "moleculer-web's error body (SPEC §3): code is the HTTP status, type a stable word",
        required: ["name", "message", "code", "type"],
        properties: {
          name: { type: "string" },
          message: { type: "string" },
          code: { type: "integer" },
          type: { type: "string", examples: ["SEAT_UNAVAILABLE"] },
          data: { description: "Optional details (failing fields, requestId, dependency, …)" },
        },
      },
    },
    parameters: {
      IdempotencyKey: {
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description: "8–128 of [A-Za-z0-9_-]; required by POST /api/payments, optional on charges and refunds: a retry with the same key replays the result",
        schema: { type: "string", pattern: "^[A-Za-z0-9_-]{8,128}$" },
      },
    },
    responses: Object.fromEntries(
      Object.entries(ERROR_TYPES_BY_STATUS).map(([status, types]) => [
        `E${status}`,
        errorResponse(types, status === "503" || status === "429" ? retryAfter : undefined),
      ]),
    ),
  };
}

/** `/api/x/:id` → `/api/x/{id}` and the names of its path parameters. */
export function openApiPath(path: string): { path: string; names: string[] } {
  const names: string[] = [];
  const converted = path.replace(/:([A-Za-z0-9_]+)\??/g, (_m, name: string) => {
    names.push(name);
    return `{${name}}`;
  });
  return { path: converted, names };
}

function needsQueueToken(action: ActionInfo): boolean {
  return typeof action.queueGuard === "function" || action.queueToken === true || action.queueToken === "required";
}

function operation(route: RouteInfo, action: ActionInfo | undefined): Operation {
  const method = route.method.toLowerCase();
  const { names } = openApiPath(route.path);
  const params = action?.params ?? {};
  const schema = objectSchema(params);
  const properties = schema.properties as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const parameters: unknown[] = names.map((name) => ({
    name,
    in: "path",
    required: true,
    schema: properties[name] ?? { type: "string" },
  }));
  const rest = Object.keys(properties).filter((name) => !names.includes(name));
  const hasBody = method === "post" || method === "put" || method === "patch";
  if (!hasBody) {
    for (const name of rest) parameters.push({ name, in: "query", required: required.has(name), schema: properties[name] });
  }
  const auth = action?.auth;
  const queue = action ? needsQueueToken(action) : false;
  if (hasBody && (auth === "required" || auth === "admin")) parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });

  const op: Operation = { operationId: route.action, tags: [route.action.split(".")[0]] };
  if (action?.description) op.summary = action.description;
  if (parameters.length) op.parameters = parameters;
  if (hasBody && rest.length) {
    const body: JsonSchema = { type: "object", properties: Object.fromEntries(rest.map((name) => [name, properties[name]])) };
    const bodyRequired = rest.filter((name) => required.has(name));
    if (bodyRequired.length) body.required = bodyRequired;
    if (schema.additionalProperties === false) body.additionalProperties = false;
    op.requestBody = { required: bodyRequired.length > 0, content: { "application/json": { schema: body } } };
  }
  if (auth === "required" || auth === "admin") op.security = [queue ? { bearer: [], queueToken: [] } : { bearer: [] }];
  else op.security = [{}, { bearer: [] }]; // public; a bearer, when sent, must be valid
  if (auth === "admin") op.description = "Operator route: the bearer's `roles` must contain \"admin\".";

  const responses: Record<string, unknown> = { "2XX": { description: "Success (JSON)", content: { "application/json": {} } } };
  if (auth) responses["401"] = { $ref: "#/components/responses/E401" };
  if (auth === "admin" || queue) responses["403"] = { $ref: "#/components/responses/E403" };
  if (Object.keys(properties).length) responses["422"] = { $ref: "#/components/responses/E422" };
  responses["4XX"] = errorResponse("Other domain errors (404 *_NOT_FOUND, 409 SEAT_UNAVAILABLE, 402 INSUFFICIENT_POINTS, 410 RESERVATION_EXPIRED, …)");
  responses["429"] = { $ref: "#/components/responses/E429" };
  responses["500"] = { $ref: "#/components/responses/E500" };
  responses["503"] = { $ref: "#/components/responses/E503" };
  op.responses = responses;
  return op;
}

/** The whole document; routes without a known action (not yet in the registry) are still listed. */
export function buildOpenApi(routes: RouteInfo[], actions: Map<string, ActionInfo>, info: { title: string; version: string }) {
  const paths: Record<string, Record<string, Operation>> = {};
  const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    const { path } = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, actions.get(route.action));
  }
  return {
    openapi: "3.1.0",
    info: { ...info, description: "Concert booking API (SPEC §3, §7, §8). Generated from the services' action schemas." },
    paths,
    components: components(),
  };
}

/** Registry service list (`registry.getServiceList({ withActions: true })`) → actions by name. */
export function actionsOf(services: Array<{ actions?: Record<string, unknown> }>): Map<string, ActionInfo> {
  const map = new Map<string, ActionInfo>();
  for (const service of services) {
    for (const [name, action] of Object.entries(service.actions ?? {})) {
      const info = action as ActionInfo;
      // A local definition keeps functions (queueGuard); prefer it over a remote copy.
      if (!map.has(name) || typeof info.queueGuard === "function") map.set(name, { ...info, name });
    }
  }
  return map;
}
