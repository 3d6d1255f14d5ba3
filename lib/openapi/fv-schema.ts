/**
 * fastest-validator rules → JSON Schema (OpenAPI 3.1 uses JSON Schema 2020-12), for the rules this
 * project's actions use. A rule may arrive from another node over NATS (JSON): a RegExp `pattern`
 * then is `{}` and is left out rather than documented wrongly.
 */
export type JsonSchema = Record<string, unknown>;
type Rule = Record<string, unknown>;

/** "number|integer|positive|optional" → { type: "number", integer: true, positive: true, optional: true } */
function fromShorthand(text: string): Rule {
  const [type, ...flags] = text.split("|");
  const rule: Rule = { type };
  for (const flag of flags) {
    const [key, value] = flag.split(":");
    rule[key] = value === undefined ? true : value === "false" ? false : Number.isNaN(Number(value)) ? value : Number(value);
  }
  return rule;
}

export function normalizeRule(rule: unknown): Rule {
  if (typeof rule === "string") return fromShorthand(rule);
  if (Array.isArray(rule)) return { type: "multi", rules: rule };
  return (rule ?? { type: "any" }) as Rule;
}

function patternOf(pattern: unknown): string | undefined {
  if (pattern instanceof RegExp) return pattern.source;
  return typeof pattern === "string" ? pattern : undefined;
}

function withNullable(schema: JsonSchema, rule: Rule): JsonSchema {
  if (!rule.nullable) return schema;
  if (typeof schema.type === "string") return { ...schema, type: [schema.type, "null"] };
  return { anyOf: [schema, { type: "null" }] };
}

function numberSchema(rule: Rule): JsonSchema {
  const schema: JsonSchema = { type: rule.integer ? "integer" : "number" };
  if (typeof rule.min === "number") schema.minimum = rule.min;
  if (typeof rule.max === "number") schema.maximum = rule.max;
  if (rule.positive && schema.minimum === undefined) schema.exclusiveMinimum = 0;
  if (rule.negative && schema.maximum === undefined) schema.exclusiveMaximum = 0;
  if (typeof rule.equal === "number") schema.const = rule.equal;
  return schema;
}

function stringSchema(rule: Rule): JsonSchema {
  const schema: JsonSchema = { type: "string" };
  if (typeof rule.min === "number") schema.minLength = rule.min;
  if (typeof rule.max === "number") schema.maxLength = rule.max;
  if (typeof rule.length === "number") schema.minLength = schema.maxLength = rule.length;
  const pattern = patternOf(rule.pattern);
  if (pattern) schema.pattern = pattern;
  if (Array.isArray(rule.enum)) schema.enum = rule.enum;
  return schema;
}

function arraySchema(rule: Rule): JsonSchema {
  const schema: JsonSchema = { type: "array" };
  if (rule.items !== undefined) schema.items = ruleToSchema(rule.items);
  if (typeof rule.min === "number") schema.minItems = rule.min;
  if (typeof rule.max === "number") schema.maxItems = rule.max;
  if (typeof rule.length === "number") schema.minItems = schema.maxItems = rule.length;
  if (rule.unique) schema.uniqueItems = true;
  return schema;
}

/** One fastest-validator rule as a JSON Schema. */
export function ruleToSchema(raw: unknown): JsonSchema {
  const rule = normalizeRule(raw);
  let schema: JsonSchema;
  switch (rule.type) {
    case "number":
      schema = numberSchema(rule);
      break;
    case "string":
      schema = stringSchema(rule);
      break;
    case "boolean":
      schema = { type: "boolean" };
      break;
    case "array":
      schema = arraySchema(rule);
      break;
    case "object":
      schema = rule.props ? objectSchema(rule.props as Record<string, unknown>, rule.strict === true) : { type: "object" };
      break;
    case "enum":
      schema = { enum: rule.values };
      break;
    case "equal":
      schema = { const: rule.value };
      break;
    case "uuid":
      schema = { type: "string", format: "uuid" };
      break;
    case "email":
      schema = { type: "string", format: "email" };
      break;
    case "date":
      schema = { type: "string", format: "date-time" };
      break;
    case "multi":
      schema = { anyOf: (rule.rules as unknown[]).map(ruleToSchema) };
      break;
    default:
      schema = {};
  }
  if (rule.default !== undefined && typeof rule.default !== "function") schema.default = rule.default;
  if (typeof rule.description === "string") schema.description = rule.description;
  return withNullable(schema, rule);
}

export function isOptional(rule: unknown): boolean {
  const r = normalizeRule(rule);
  return r.optional === true || r.default !== undefined;
}

/** An action's `params` (or an object rule's `props`) as an object schema; `$$` keys are validator options. */
export function objectSchema(props: Record<string, unknown>, strict = props.$$strict === true): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props)) {
    if (name.startsWith("$$")) continue;
    properties[name] = ruleToSchema(rule);
    if (!isOptional(rule)) required.push(name);
  }
  const schema: JsonSchema = { type: "object", properties };
  if (required.length) schema.required = required;
  if (strict) schema.additionalProperties = false;
  return schema;
}
