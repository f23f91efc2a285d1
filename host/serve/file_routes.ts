/**
 * `/v1/sandboxes/{id}/files`: read, write, list, stat, make, move and remove paths of a running
 * sandbox (host/api/guest_fs.ts). A file's bytes travel as the body; a directory as a tar archive
 * with `tar=true`.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { AgentboxError } from "../api/errors.ts";
import {
  listGuestDir,
  makeGuestDir,
  moveGuestPath,
  readGuestFile,
  removeGuestPath,
  statGuestPath,
  writeGuestFile,
} from "../api/guest_fs.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { errorReply, GUEST_ENTRY, SANDBOX_PARAM } from "./schemas.ts";

const PATH_QUERY = z.object({
  path: z.string().min(1).max(4096).openapi({
    description: "Guest path; a relative one is taken from /workspace",
  }),
  user: z.string().max(32).optional().openapi({ description: "Guest user (default: the image's)" }),
});

const FLAG = z.enum(["true", "false"]).optional();

const errors = {
  400: errorReply("Bad request"),
  404: errorReply("No such path"),
  409: errorReply("Not running"),
} as const;

/**
 * Add the file routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { fileRoutes } from "./file_routes.ts";
 * fileRoutes(app, deps);
 * ```
 */
export function fileRoutes(app: ServeApp, deps: ServeDeps): void {
  const session = (ref: string) => resolveSessionRef(deps.ctx, ref);

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/files",
      summary: "Read a file (or a directory as a tar archive with tar=true)",
      request: { params: SANDBOX_PARAM, query: PATH_QUERY.extend({ tar: FLAG }) },
      responses: {
        200: {
          description: "The bytes",
          content: {
            "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { path, user, tar } = c.req.valid("query");
      const read = await readGuestFile(session(c.req.valid("param").id), path, {
        user,
        tar: tar === "true",
      });
      return new Response(read.data, {
        headers: {
          "content-type": tar === "true" ? "application/x-tar" : "application/octet-stream",
        },
      });
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/sandboxes/{id}/files",
      summary: "Write a file (parents made), or unpack a tar archive into a directory (tar=true)",
      request: {
        params: SANDBOX_PARAM,
        query: PATH_QUERY.extend({
          tar: FLAG,
          mode: z.string().regex(/^[0-7]{3,4}$/).optional().openapi({ example: "644" }),
        }),
        body: {
          content: {
            "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
          },
        },
      },
      responses: { 204: { description: "Written" }, ...errors },
    }),
    async (c) => {
      const { path, user, tar, mode } = c.req.valid("query");
      const body = c.req.raw.body ?? new Blob([]).stream();
      await writeGuestFile(
        session(c.req.valid("param").id),
        path,
        body.pipeThrough(byteLimit(deps.limits.uploadBytes)),
        { user, tar: tar === "true", mode },
      );
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/files/list",
      summary: "List a directory",
      request: {
        params: SANDBOX_PARAM,
        query: PATH_QUERY.extend({
          depth: z.coerce.number().int().min(1).max(64).optional(),
        }),
      },
      responses: {
        200: {
          description: "The entries, sorted by path",
          content: { "application/json": { schema: z.object({ entries: z.array(GUEST_ENTRY) }) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { path, user, depth } = c.req.valid("query");
      const entries = await listGuestDir(session(c.req.valid("param").id), path, { user, depth });
      return c.json({ entries }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/sandboxes/{id}/files/stat",
      summary: "Stat a path (a link is not followed)",
      request: { params: SANDBOX_PARAM, query: PATH_QUERY },
      responses: {
        200: { description: "The path", content: { "application/json": { schema: GUEST_ENTRY } } },
        ...errors,
      },
    }),
    async (c) => {
      const { path, user } = c.req.valid("query");
      return c.json(await statGuestPath(session(c.req.valid("param").id), path, { user }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/mkdir",
      summary: "Make a directory and its parents",
      request: { params: SANDBOX_PARAM, query: PATH_QUERY },
      responses: {
        200: {
          description: "Whether it was made (false: it existed)",
          content: { "application/json": { schema: z.object({ created: z.boolean() }) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { path, user } = c.req.valid("query");
      const created = await makeGuestDir(session(c.req.valid("param").id), path, { user });
      return c.json({ created }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/files/move",
      summary: "Move (rename) a path",
      request: {
        params: SANDBOX_PARAM,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({
                from: z.string().min(1).max(4096),
                to: z.string().min(1).max(4096),
                user: z.string().max(32).optional(),
              }),
            },
          },
        },
      },
      responses: { 204: { description: "Moved" }, ...errors },
    }),
    async (c) => {
      const { from, to, user } = c.req.valid("json");
      await moveGuestPath(session(c.req.valid("param").id), from, to, { user });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/sandboxes/{id}/files",
      summary: "Remove a path (recursively)",
      request: { params: SANDBOX_PARAM, query: PATH_QUERY },
      responses: { 204: { description: "Removed" }, ...errors },
    }),
    async (c) => {
      const { path, user } = c.req.valid("query");
      await removeGuestPath(session(c.req.valid("param").id), path, { user });
      return c.body(null, 204);
    },
  );
}

/** A stream that fails once more than `limit` bytes went through it. */
function byteLimit(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.length;
      if (seen > limit) {
        controller.error(
          new AgentboxError(`The upload is over ${limit} bytes (--max-upload)`, {
            kind: "usage",
            code: "body_too_large",
          }),
        );
        return;
      }
      controller.enqueue(chunk);
    },
  });
}
