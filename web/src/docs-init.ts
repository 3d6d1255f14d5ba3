/** Renders /api/openapi.json with Swagger UI (swagger-ui-dist, served locally: no inline script under the CSP). */
declare const SwaggerUIBundle: (options: Record<string, unknown>) => unknown;

SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true, tryItOutEnabled: false });
