/**
 * What the server knows besides single sandboxes: images (list; build with progress as
 * server-sent events), snapshots, the request log, usage, and `/v1/events` — a server-sent stream
 * of sandbox lifecycle changes, egress decisions and pending approvals as they happen.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { buildImageAndTemplate, listImageSummaries } from "../api/images.ts";
import { requestRecords, resolveSessionRef, usageReport } from "../api/network_records.ts";
import { listSessions, type SessionEntry } from "../api/sessions.ts";
import { listSnapshotInfos } from "../api/snapshots.ts";
import { delay } from "../delay.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { errorResponse } from "./http_status.ts";
import { errorReply } from "./schemas.ts";
import { followApprovals } from "./decision_routes.ts";

/** How often the events stream looks at the sessions for lifecycle changes. */
const LIFECYCLE_POLL_MS = 500;

const errors = {
  400: errorReply("Bad request"),
  404: errorReply("Not found"),
} as const;

const anyJson = (description: string) => ({
  description,
  content: { "application/json": { schema: z.object({}).passthrough() } },
});

/**
 * Add the image, snapshot, request, usage and event routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { infoRoutes } from "./info_routes.ts";
 * infoRoutes(app, deps);
 * ```
 */
export function infoRoutes(app: ServeApp, deps: ServeDeps): void {
  const { ctx } = deps;

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/images",
      summary: "The images built on this machine",
      responses: { 200: anyJson("The images") },
    }),
    async (c) => c.json({ ...await listImageSummaries() }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/images/build",
      summary: "Build an image and its template; progress and the report as server-sent events",
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                name: z.string().max(64).optional(),
                profile: z.string().max(64).optional(),
                agents: z.array(z.string().max(64)).max(16).optional(),
              }),
            },
          },
        },
      },
      responses: {
        200: {
          description: "`progress`, `warning` and `step-progress` events, then `done` (the " +
            "report) or `error`",
          content: { "text/event-stream": { schema: z.string() } },
        },
        ...errors,
      },
    }),
    (c) => {
      const request = c.req.valid("json");
      return streamSSE(c, async (stream) => {
        try {
          const report = await buildImageAndTemplate(request, (event) => {
            stream.writeSSE({ event: event.type, data: JSON.stringify(event) }).catch(() => {});
          });
          await stream.writeSSE({ event: "done", data: JSON.stringify(report) });
        } catch (error) {
          await stream.writeSSE({
            event: "error",
            data: JSON.stringify(errorResponse(error).body),
          });
        }
      });
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/snapshots",
      summary: "The saved snapshots",
      responses: { 200: anyJson("The snapshots") },
    }),
    async (c) => c.json({ snapshots: await listSnapshotInfos() }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/requests",
      summary: "The request log (egress decisions), oldest first",
      request: {
        query: z.object({
          session: z.string().max(128).optional(),
          limit: z.coerce.number().int().min(1).max(100000).optional(),
        }),
      },
      responses: { 200: anyJson("The requests"), ...errors },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const session = query.session === undefined
        ? undefined
        : resolveSessionRef(ctx, query.session);
      const requests = [];
      for await (const record of requestRecords(ctx, { session })) requests.push(record);
      const limit = query.limit ?? 1000;
      return c.json({ requests: requests.slice(-limit) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/usage",
      summary: "Requests, bytes and AI tokens, grouped",
      request: {
        query: z.object({
          session: z.string().max(128).optional(),
          by: z.enum(["model", "host", "session"]).optional(),
        }),
      },
      responses: { 200: anyJson("The usage report"), ...errors },
    }),
    (c) => {
      const query = c.req.valid("query");
      const session = query.session === undefined
        ? undefined
        : resolveSessionRef(ctx, query.session);
      return c.json({ ...usageReport(ctx, { session, by: query.by ?? "model" }) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      summary: "Server-sent events: sandbox lifecycle changes and egress decisions, from now on",
      responses: {
        200: {
          description: "`sandbox` events ({id, name, state, previous}), `request` events " +
            "(one request log record each) and `approval` events (an approval that started " +
            "waiting: answer it with POST /v1/approvals/{id})",
          content: { "text/event-stream": { schema: z.string() } },
        },
      },
    }),
    (c) =>
      streamSSE(c, async (stream) => {
        const stop = new AbortController();
        stream.onAbort(() => stop.abort());
        const send = (event: string, data: unknown) =>
          stream.writeSSE({ event, data: JSON.stringify(data) });
        await Promise.all([
          followLifecycle(deps, stop.signal, (data) => send("sandbox", data)),
          followApprovals(deps, stop.signal, (data) => send("approval", data)),
          (async () => {
            let skipping = true;
            const since = Date.now();
            for await (
              const record of requestRecords(ctx, { follow: true, signal: stop.signal })
            ) {
              // The log's past is GET /v1/requests; this stream starts now.
              if (skipping && record.startedAt < since) continue;
              skipping = false;
              await send("request", record);
            }
          })(),
        ]).catch(() => stop.abort());
      }),
  );
}

/** Call `send` with each change of a session's state until `signal` aborts. */
async function followLifecycle(
  deps: ServeDeps,
  signal: AbortSignal,
  send: (
    change: { id: string; name: string | null; state: string; previous: string | null },
  ) => Promise<void>,
): Promise<void> {
  const seen = new Map<string, string>();
  const snapshot = async () =>
    new Map((await listSessions(deps.ctx, { all: true })).map(
      (e: SessionEntry) => [e.id, e] as const,
    ));
  for (const [id, e] of await snapshot()) seen.set(id, e.state);
  while (!signal.aborted) {
    await delay(LIFECYCLE_POLL_MS);
    const now = await snapshot();
    for (const [id, e] of now) {
      const previous = seen.get(id) ?? null;
      if (previous === e.state) continue;
      seen.set(id, e.state);
      await send({ id, name: e.name, state: e.state, previous });
    }
    for (const id of [...seen.keys()]) {
      if (!now.has(id)) {
        await send({ id, name: null, state: "removed", previous: seen.get(id) ?? null });
        seen.delete(id);
      }
    }
  }
}
