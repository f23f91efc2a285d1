/**
 * E2B's in-sandbox daemon (envd, `E2B_SANDBOX_URL`) for every sandbox of the server on one
 * listener: each request names its sandbox with `E2b-Sandbox-Id` and proves it may use it with
 * `X-Access-Token` (the token the API handed out when the sandbox was created or connected to).
 * A sandbox that is gone answers 502, as E2B's proxy does, which the SDK reads as "not running".
 *
 * Routes: `GET /health`, `GET`/`POST /files` (files.ts), and the Connect RPC services
 * `process.Process` and `filesystem.Filesystem` (JSON or binary; served by `@connectrpc/connect`
 * with the descriptors of the installed `e2b` package).
 *
 * @module
 */

import { createConnectRouter, createContextValues } from "@connectrpc/connect";
import { universalServerResponseToFetch } from "@connectrpc/connect/protocol";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { Hono } from "hono";
import { envdServices } from "./envd_services.ts";
import { filesRoutes } from "./files_routes.ts";
import { filesystemService } from "./filesystem_service.ts";
import { apiError } from "./http_errors.ts";
import { processService } from "./process_service.ts";
import { SANDBOX_KEY } from "./sandbox_context.ts";
import type { E2bSandbox, E2bSandboxes } from "./sandboxes.ts";
import { sameSecret } from "./secret_compare.ts";

/** What the envd app needs. */
export interface EnvdDeps {
  sandboxes: E2bSandboxes;
  /** The largest file upload (default: files_routes.ts's `MAX_UPLOAD_BYTES`). */
  maxUploadBytes?: number;
}

type Env = { Variables: { sandbox: E2bSandbox } };

/**
 * The envd app. Rejects with `e2b_package_missing` when the `e2b` package's descriptors cannot be
 * read.
 *
 * @example
 * ```ts ignore
 * import { envdApp } from "./envd_app.ts";
 * Deno.serve({ port: 49983 }, (await envdApp({ sandboxes })).fetch);
 * ```
 */
export async function envdApp(deps: EnvdDeps): Promise<Hono<Env>> {
  const services = await envdServices();
  const router = createConnectRouter({ jsonOptions: { ignoreUnknownFields: true } });
  // deno-lint-ignore no-explicit-any -- the services are known at run time only
  router.service(services.process, processService() as any);
  // deno-lint-ignore no-explicit-any -- the services are known at run time only
  router.service(services.filesystem, filesystemService() as any);
  const rpcs = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));

  const app = new Hono<Env>();
  app.onError((error, c) => {
    const { status, body } = apiError(error);
    return c.json(body, status as 400);
  });
  app.use("*", async (c, next) => {
    const id = c.req.header("e2b-sandbox-id");
    const sandbox = id === undefined ? undefined : deps.sandboxes.get(id);
    if (!sandbox) {
      return c.json(
        { code: 502, message: `The sandbox ${id ?? "(none named)"} is not running` },
        502,
      );
    }
    const token = c.req.header("x-access-token");
    if (token === undefined || !sameSecret(token, sandbox.accessToken)) {
      return c.json({ code: 401, message: "Invalid or missing X-Access-Token" }, 401);
    }
    c.set("sandbox", sandbox);
    await next();
  });
  app.get("/health", (c) => c.body(null, 204));
  app.route("/", filesRoutes(deps.maxUploadBytes));
  app.post("/:service/:method", async (c) => {
    const handler = rpcs.get(new URL(c.req.url).pathname);
    if (!handler) return c.json({ code: 404, message: "No such RPC" }, 404);
    const raw = c.req.raw;
    // Not the request's own signal: Deno aborts that once a response is delivered (its legacy
    // behaviour, with a warning). A client that goes away mid-stream cancels the body instead,
    // which ends the method; `completed` rejecting says the same for the rest.
    const gone = new AbortController();
    (c.env as Partial<Deno.ServeHandlerInfo> | undefined)?.completed?.catch(() => gone.abort());
    const request: UniversalServerRequest = {
      httpVersion: "1.1",
      method: raw.method,
      url: raw.url,
      header: raw.headers,
      body: raw.body ?? ReadableStream.from<Uint8Array>([]),
      signal: gone.signal,
      contextValues: createContextValues().set(SANDBOX_KEY, c.get("sandbox")),
    };
    return universalServerResponseToFetch(await handler(request));
  });
  return app;
}
