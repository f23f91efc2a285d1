/**
 * A sandbox's workspace changes and snapshots: the diff as JSON (collected from a running
 * sandbox first), apply (all, or the paths named), discard, and save a snapshot (restored as a
 * new sandbox with `POST /v1/sandboxes {"snapshot": NAME}`).
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { applyChanges, checkApplyRequest } from "../api/apply_changes.ts";
import { diffChanges, discardChanges, findChangesSession, loadChanges } from "../api/changes.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import { saveSnapshot } from "../api/snapshots.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { APPLY, CHANGE, errorReply, SANDBOX_PARAM, SNAPSHOT } from "./schemas.ts";

const errors = {
  400: errorReply("Bad request"),
  404: errorReply("No such sandbox"),
  409: errorReply("Not in a state to do it"),
} as const;

const COUNTS = z.object({
  applied: z.number(),
  unchanged: z.number(),
  skipped: z.number(),
  conflict: z.number(),
  refused: z.number(),
});

/**
 * Add the change and snapshot routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { changeRoutes } from "./change_routes.ts";
 * changeRoutes(app, deps);
 * ```
 */
export function changeRoutes(app: ServeApp, deps: ServeDeps): void {
  const { ctx } = deps;
  const target = (ref: string, purpose: "diff" | "apply") =>
    findChangesSession(ctx, {
      ref: resolveSessionRef(ctx, ref),
      project: deps.defaultProject,
      purpose,
    });

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/changes",
      summary: "The sandbox's workspace changes (collected now if it runs)",
      request: {
        params: SANDBOX_PARAM,
        query: z.object({
          hideIgnored: z.enum(["true", "false"]).optional(),
          path: z.union([z.string(), z.array(z.string())]).optional().openapi({
            description: "Project-relative paths or globs to show; repeat for several",
          }),
        }),
      },
      responses: {
        200: {
          description: "The changes",
          content: {
            "application/json": {
              schema: z.object({
                project: z.string(),
                entries: z.array(CHANGE),
                hiddenIgnored: z.number(),
                hiddenByPath: z.number(),
                applied: z.number(),
              }),
            },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const { session, project } = await target(c.req.valid("param").id, "diff");
      const changeset = await loadChanges(ctx, session);
      const paths = query.path === undefined ? [] : [query.path].flat();
      const view = await diffChanges(changeset, {
        hideIgnored: query.hideIgnored === "true",
        paths,
      });
      return c.json({ project, ...view }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/changes/apply",
      summary: "Apply the changes (or the paths named) to the project on the host",
      request: {
        params: SANDBOX_PARAM,
        body: { content: { "application/json": { schema: APPLY } } },
      },
      responses: {
        200: {
          description: "What happened to each path",
          content: {
            "application/json": {
              schema: z.object({
                status: z.string(),
                resumed: z.boolean(),
                changeset: z.string(),
                counts: COUNTS,
                outcomes: z.array(z.object({ path: z.string(), result: z.string() }).passthrough()),
              }),
            },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const request = c.req.valid("json");
      checkApplyRequest(request);
      const { session } = await target(c.req.valid("param").id, "apply");
      const summary = await applyChanges({ ...ctx, actor: c.get("who") }, session, request);
      return c.json(summary, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/changes/discard",
      summary: "Discard the changes not applied",
      request: { params: SANDBOX_PARAM },
      responses: { 204: { description: "Discarded" }, ...errors },
    }),
    async (c) => {
      const { session } = await target(c.req.valid("param").id, "diff");
      await discardChanges(session);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/snapshots",
      summary: "Save a running sandbox as a named snapshot",
      request: {
        params: SANDBOX_PARAM,
        body: { content: { "application/json": { schema: SNAPSHOT } } },
      },
      responses: {
        201: {
          description: "Saved",
          content: { "application/json": { schema: z.object({ name: z.string() }) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { name } = c.req.valid("json");
      await saveSnapshot(ctx, resolveSessionRef(ctx, c.req.valid("param").id), name);
      return c.json({ name }, 201);
    },
  );
}
