/**
 * envd's plain-HTTP file transfer: `GET /files?path=P` downloads a guest file, `POST /files`
 * uploads one or more — a multipart form (the SDK's default; each part's file name is its path
 * when no `path` is given) or a raw body (`application/octet-stream`, optionally gzip-encoded).
 * `username` names the guest user the file is written as. Bodies are bounded.
 *
 * @module
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { UsageError } from "../../agentbox_error.ts";
import { guestPath } from "../../api/files.ts";
import { readGuestFile, writeGuestFile } from "../../api/guest_fs.ts";
import { USER_NAME_PATTERN } from "@agentbox/protocol";
import type { E2bSandbox } from "./sandboxes.ts";

/** The largest upload a request may carry, unless the server says otherwise. */
export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

type Env = { Variables: { sandbox: E2bSandbox } };

/** The `/files` routes; the envd app has set the request's sandbox. */
export function filesRoutes(maxUploadBytes = MAX_UPLOAD_BYTES): Hono<Env> {
  const app = new Hono<Env>();

  app.get("/files", async (c) => {
    const path = requirePath(c.req.query("path"));
    const user = userOf(c.req.query("username"));
    const file = await readGuestFile(c.get("sandbox").id, path, { user });
    return c.body(file.data, 200, { "content-type": "application/octet-stream" });
  });

  app.post(
    "/files",
    bodyLimit({
      maxSize: maxUploadBytes,
      onError: (c) =>
        c.json({ code: 413, message: `Uploads are limited to ${maxUploadBytes} bytes` }, 413),
    }),
    async (c) => {
      const id = c.get("sandbox").id;
      const user = userOf(c.req.query("username"));
      const queryPath = c.req.query("path");
      const type = c.req.header("content-type") ?? "";
      const written: { name: string; type: "file"; path: string }[] = [];
      const write = async (path: string, data: ReadableStream<Uint8Array>) => {
        const target = guestPath(requirePath(path));
        await writeGuestFile(id, target, data, { user });
        written.push({
          name: target.slice(target.lastIndexOf("/") + 1),
          type: "file",
          path: target,
        });
      };
      if (type.startsWith("multipart/form-data")) {
        const form = await c.req.formData();
        for (const part of form.getAll("file")) {
          if (typeof part === "string") throw badRequest("A form part named file holds no file");
          await write(queryPath ?? part.name, part.stream());
        }
      } else {
        let body = c.req.raw.body ?? new Blob([]).stream();
        if ((c.req.header("content-encoding") ?? "").toLowerCase() === "gzip") {
          body = body.pipeThrough(new DecompressionStream("gzip"));
        }
        await write(requirePath(queryPath), body);
      }
      if (written.length === 0) throw badRequest("The request uploads no file");
      return c.json(written);
    },
  );
  return app;
}

function requirePath(path: string | undefined): string {
  if (!path) throw badRequest("Name the file with ?path=");
  return path;
}

function userOf(username: string | undefined): string | undefined {
  if (username === undefined || username === "") return undefined;
  if (!USER_NAME_PATTERN.test(username)) throw badRequest(`${username} is not a user name`);
  return username;
}

function badRequest(message: string): UsageError {
  return new UsageError(message, { code: "e2b_bad_request" });
}
