/**
 * The warm pool's routes: `POST /v1/oneshot` starts a one-shot sandbox for a local client (what
 * `agentbox exec` does when a server runs: host/api/served_exec.ts), taking a warm VM when one
 * fits; `GET /v1/pool` says what the pool holds.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { asAgentboxError, UsageError } from "../api/errors.ts";
import { parseSandboxSpec } from "../api/sandbox_spec.ts";
import { startServedExec } from "../api/served_exec.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { ERROR } from "./schemas.ts";

const ONE_SHOT = z.object({
  spec: z.record(z.string(), z.unknown()).openapi({
    description: "The sandbox's spec, as the CLI makes it (fields of host/api/sandbox_spec.ts)",
  }),
}).openapi("OneShot");

const REFUSAL = z.object({
  host: z.string(),
  port: z.number(),
  rule: z.string(),
  count: z.number(),
  hint: z.string().optional(),
});

const ONE_SHOT_EVENT = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("started"),
    session: z.string(),
    controlSocket: z.string(),
    pooled: z.boolean(),
    bootMs: z.number(),
    warnings: z.array(z.string()),
  }),
  z.object({
    type: z.literal("ended"),
    network: z.object({
      sessionId: z.string(),
      backend: z.enum(["tap", "user", "none"]),
      requests: z.number(),
      refused: z.array(REFUSAL),
    }),
    warnings: z.array(z.string()),
    totalMs: z.number(),
  }),
  z.object({ type: z.literal("error"), error: ERROR.shape.error }),
]).openapi("OneShotEvent");

/** What `GET /v1/pool` answers. */
export const POOL_STATS = z.object({
  image: z.string(),
  backend: z.enum(["tap", "user"]).nullable(),
  size: z.number(),
  ready: z.number(),
  filling: z.number(),
  taken: z.number(),
  misses: z.number(),
  discarded: z.number(),
  build: z.string().nullable(),
  /** Standby session owners (`--pool-sessions`), for created sandboxes. */
  sessions: z.object({
    size: z.number(),
    ready: z.number(),
    starting: z.number(),
    taken: z.number(),
  }),
}).openapi("PoolStats");

/**
 * Add the pool's routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { poolRoutes } from "./pool_routes.ts";
 * poolRoutes(app, deps, { oneShot: true });
 * ```
 */
export function poolRoutes(
  app: ServeApp,
  deps: ServeDeps,
  options: { oneShot: boolean },
): void {
  app.openAPIRegistry.registerPath({
    method: "post",
    path: "/v1/oneshot",
    summary: "Start a one-shot sandbox for a local client (`agentbox exec`), from the warm " +
      "pool when a VM fits; NDJSON: `started` (its control socket), then `ended` once the " +
      "client has hung up from it and it stopped",
    request: { body: { content: { "application/json": { schema: ONE_SHOT } } } },
    responses: {
      200: {
        description: "`started`, then `ended` or `error`",
        content: { "application/x-ndjson": { schema: ONE_SHOT_EVENT } },
      },
      400: { description: "Bad request", content: { "application/json": { schema: ERROR } } },
      404: { description: "No such image", content: { "application/json": { schema: ERROR } } },
    },
  });

  app.post("/v1/oneshot", async (c) => {
    if (!options.oneShot) {
      throw new UsageError(
        "One-shot sandboxes are served on the unix socket only (their control socket is local)",
        { code: "socket_only" },
      );
    }
    const body = ONE_SHOT.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) {
      throw new UsageError('Invalid request: the body must be {"spec": {...}}', {
        code: "request_invalid",
      });
    }
    const spec = parseSandboxSpec(body.data.spec, "the request");
    if (spec.share !== undefined) {
      // Its changes would be collected nowhere: a one-shot's client gets the network report only.
      throw new UsageError(
        "One-shot sandboxes through the server take no shared directory (their changes would be " +
          "lost): create a sandbox with POST /v1/sandboxes, or run `agentbox exec --share` yourself",
        { code: "share_unsupported" },
      );
    }
    const gone = new AbortController();
    const { started, ended } = await startServedExec(deps.ctx, spec, {
      warm: deps.pool,
      signal: gone.signal,
    });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // The client went away (its response was cancelled): the sandbox stops.
    writer.closed.catch(() => gone.abort());
    const line = (event: unknown) => writer.write(encoder.encode(`${JSON.stringify(event)}\n`));
    line({ type: "started", ...started }).catch(() => {});
    ended.then(
      async ({ cleaned, ...end }) => {
        await line({ type: "ended", ...end });
        // The client has its report; the stream ends once the tap and its wall are gone too.
        await cleaned;
      },
      (error) => {
        const typed = asAgentboxError(error);
        return line({
          type: "error",
          error: { kind: typed.kind, code: typed.code, message: typed.message },
        });
      },
    ).then(() => writer.close()).catch(() => {});
    return new Response(readable, {
      headers: { "content-type": "application/x-ndjson", "cache-control": "no-store" },
    });
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/pool",
      summary:
        "The warm pool: VMs ready, being restored, taken, missed, discarded; standby session owners",
      responses: {
        200: {
          description: "The pool's state",
          content: { "application/json": { schema: POOL_STATS } },
        },
      },
    }),
    async (c) =>
      c.json(
        {
          ...(deps.pool?.stats() ?? {
            image: "default",
            backend: null,
            size: 0,
            ready: 0,
            filling: 0,
            taken: 0,
            misses: 0,
            discarded: 0,
            build: null,
          }),
          sessions: await deps.standby?.stats() ??
            { size: 0, ready: 0, starting: 0, taken: 0 },
        },
        200,
      ),
  );
}

const encoder = new TextEncoder();
