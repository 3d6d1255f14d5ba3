/** Small JSON HTTP client for tests against the gateway. */
export interface JsonResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  queueToken?: string;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  /** Sent as is (for malformed bodies); otherwise `json` is serialised. */
  rawBody?: string;
  json?: unknown;
}

export async function request<T = any>(method: string, url: string, options: RequestOptions = {}): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.queueToken) headers["x-queue-token"] = options.queueToken;
  if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
  let body: string | undefined = options.rawBody;
  if (body === undefined && options.json !== undefined) body = JSON.stringify(options.json);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

export async function devToken(baseUrl: string, userId: string, roles?: string[]): Promise<string> {
  const response = await request<{ accessToken: string }>("POST", `${baseUrl}/auth/dev-token`, { json: { userId, roles } });
  if (response.status !== 200) throw new Error(`dev-token for ${userId}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.accessToken;
}
