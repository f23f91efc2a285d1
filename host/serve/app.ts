/**
 * The server as one Hono application: who the client is (the socket's owner, or a bearer token's
 * name), the error table, the bounds, and the routes of each resource — each a thin call into
 * host/api. Listening is listen.ts's; this builds what answers.
 *
 * @module
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { ApiContext } from "../api/context.ts";
import { UsageError } from "../api/errors.ts";
import { type ServeToken, tokenName } from "../api/serve_tokens.ts";
import { errorResponse } from "./http_status.ts";
import { changeRoutes } from "./change_routes.ts";
import { decisionRoutes } from "./decision_routes.ts";
import { execRoutes } from "./exec_routes.ts";
import { fileRoutes } from "./file_routes.ts";
import { infoRoutes } from "./info_routes.ts";
import { SandboxRegistry } from "./sandbox_registry.ts";
import { sandboxRoutes } from "./sandbox_routes.ts";
import { poolRoutes } from "./pool_routes.ts";
import type { WarmPool } from "../api/warm_pool.ts";
import type { StandbyOwners } from "../api/standby.ts";
import { VERSION } from "../version.ts";

/** How clients prove who they are. */
export type ServeAuth =
  /** A unix socket only its owner can open: every client is `who`. */
  | { kind: "socket"; who: string }
  /** A bearer token (`Authorization: Bearer …`); the client is the token's name. */
  | { kind: "token"; tokens(): Promise<readonly ServeToken[]> };

/** The server's bounds. */
export interface ServeLimits {
  /** Live sandboxes one client (token) may have at once. */
  sandboxesPerClient: number;
  /** Largest JSON body. */
  jsonBodyBytes: number;
  /** Largest file upload. */
  uploadBytes: number;
}

/** Default bounds: 8 sandboxes a client, 1 MiB of JSON, 1 GiB uploads. */
export const DEFAULT_LIMITS: ServeLimits = {
  sandboxesPerClient: 8,
  jsonBodyBytes: 1024 * 1024,
  uploadBytes: 1024 * 1024 * 1024,
};

/** What the routes share. */
export interface ServeDeps {
  ctx: ApiContext;
  limits: ServeLimits;
  registry: SandboxRegistry;
  /** The project directory of a sandbox that names none and shares nothing. */
  defaultProject: string;
  /** The warm pool (`--pool N`), if any. */
  pool?: WarmPool;
  /** Standby session owners (`--pool-sessions N`), if any. */
  standby?: StandbyOwners;
}

/** The variables each request carries: the client's name. */
export interface ServeEnv {
  Variables: { who: string };
}

/** The application type every route module extends. */
export type ServeApp = OpenAPIHono<ServeEnv>;

/** Options of {@linkcode serveApp}. */
export interface ServeAppOptions {
  ctx: ApiContext;
  auth: ServeAuth;
  limits?: Partial<ServeLimits>;
  defaultProject: string;
  /** The warm pool one-shot sandboxes take VMs from. */
  pool?: WarmPool;
  /** The standby owners created sandboxes start on. */
  standby?: StandbyOwners;
}

/**
 * The application: `/openapi.json` and the `/v1` routes, behind `auth`.
 *
 * @example
 * ```ts ignore
 * import { serveApp } from "./app.ts";
 * const { app } = serveApp({ ctx, auth: { kind: "socket", who: "local" }, defaultProject: "/" });
 * Deno.serve({ path: "/run/user/1000/agentbox/serve.sock" }, app.fetch);
 * ```
 */
export function serveApp(
  options: ServeAppOptions,
): { app: ServeApp; registry: SandboxRegistry } {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const registry = new SandboxRegistry(options.ctx);
  const deps: ServeDeps = {
    ctx: options.ctx,
    limits,
    registry,
    defaultProject: options.defaultProject,
    pool: options.pool,
    standby: options.standby,
  };
  const app: ServeApp = new OpenAPIHono<ServeEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const field = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      const { status, body } = errorResponse(
        new UsageError(`Invalid request: ${field}${issue.message}`, { code: "request_invalid" }),
      );
      return c.json(body, status as 400);
    },
  });
  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    return c.json(body, status as 400);
  });
  app.notFound((c) =>
    c.json(
      {
        error: {
          kind: "not_found",
          code: "route_unknown",
          message: `No route ${c.req.method} ${new URL(c.req.url).pathname}: see /openapi.json`,
        },
      },
      404,
    )
  );
  app.use("*", async (c, next) => {
    const who = await authenticate(options.auth, c.req.raw);
    if (who === undefined) {
      c.header("WWW-Authenticate", 'Bearer realm="agentbox"');
      return c.json(
        {
          error: {
            kind: "usage",
            code: "unauthorized",
            message: "Missing or wrong bearer token: see `agentbox serve token`",
          },
        },
        401,
      );
    }
    c.set("who", who);
    await next();
  });
  // Uploads are bounded by their own limit (file_routes.ts); every other body by the JSON one.
  app.use("/v1/*", async (c, next) => {
    if (c.req.method === "PUT" && new URL(c.req.url).pathname.endsWith("/files")) return next();
    return await bodyLimit({
      maxSize: limits.jsonBodyBytes,
      onError: (c) =>
        c.json(
          {
            error: {
              kind: "usage",
              code: "body_too_large",
              message: `The request body is over ${limits.jsonBodyBytes} bytes`,
            },
          },
          413,
        ),
    })(c, next);
  });
  sandboxRoutes(app, deps);
  execRoutes(app, deps);
  fileRoutes(app, deps);
  changeRoutes(app, deps);
  decisionRoutes(app, deps);
  infoRoutes(app, deps);
  // A one-shot sandbox is driven through a local control socket: the unix socket's owner only.
  poolRoutes(app, deps, { oneShot: options.auth.kind === "socket" });
  app.doc31("/openapi.json", openApiInfo());
  return { app, registry };
}

/** The document's `openapi` and `info`. */
export function openApiInfo() {
  return {
    openapi: "3.1.0",
    info: {
      title: "agentbox",
      version: VERSION,
      description: "The REST API of `agentbox serve`: sandboxes, commands, files, changes, " +
        "snapshots, images, the request log and usage.",
    },
  };
}

/**
 * The client's name, or undefined when `request` does not prove one.
 *
 * @example
 * ```ts ignore
 * import { authenticate } from "./app.ts";
 * const who = await authenticate({ kind: "socket", who: "local" }, request);
 * ```
 */
export async function authenticate(auth: ServeAuth, request: Request): Promise<string | undefined> {
  if (auth.kind === "socket") return auth.who;
  const header = request.headers.get("authorization") ?? "";
  const bearer = /^Bearer ([\x21-\x7e]{1,200})$/.exec(header)?.[1] ??
    // A WebSocket client that cannot set headers names the token as a subprotocol.
    webSocketToken(request.headers.get("sec-websocket-protocol"));
  if (bearer === undefined) return undefined;
  return tokenName(await auth.tokens(), bearer);
}

/** The subprotocol that carries a token: `agentbox.token.<token>`. */
export const TOKEN_SUBPROTOCOL = "agentbox.token.";

function webSocketToken(header: string | null): string | undefined {
  for (const protocol of (header ?? "").split(",").map((p) => p.trim())) {
    if (protocol.startsWith(TOKEN_SUBPROTOCOL)) return protocol.slice(TOKEN_SUBPROTOCOL.length);
  }
  return undefined;
}
