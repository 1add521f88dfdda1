// The PhoneReg API client: `paths` and `components` are generated from openapi.yaml
// (`npm run generate`, never edited by hand), and openapi-fetch turns them into typed
// calls, so a request or answer that openapi.yaml does not describe fails to compile.
//
//   const api = createPhoneRegClient({ baseUrl: "http://127.0.0.1:8080", accessToken: () => token });
//   const { data, error } = await api.POST("/api/v1/auth/register", { body: { … } });
//
// `error` is the problem+json body (`type`, `title`, `status`, `detail`, `errors`, …) of
// any status openapi.yaml documents for that call.
import createClient, { type Client } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
/** The schemas of openapi.yaml by name: `Schemas["Phone"]`, `Schemas["Problem"]`, … */
export type Schemas = components["schemas"];
export type PhoneRegClient = Client<paths>;

export interface PhoneRegClientOptions {
  /** The server's origin, e.g. `https://phonereg.example.com` (paths start with `/api/v1`). */
  baseUrl: string;
  /** The current access token, asked for on every request; none sends no `Authorization`. */
  accessToken?: () => string | undefined;
  /** A `fetch` of your own (tests, proxies); the global one otherwise. */
  fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

export function createPhoneRegClient(options: PhoneRegClientOptions): PhoneRegClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
  const { accessToken } = options;
  if (accessToken) {
    client.use({
      onRequest({ request }) {
        const token = accessToken();
        // A call that sets its own Authorization (an operator token) keeps it.
        if (token && !request.headers.has("authorization")) {
          request.headers.set("authorization", `Bearer ${token}`);
        }
        return request;
      },
    });
  }
  return client;
}
