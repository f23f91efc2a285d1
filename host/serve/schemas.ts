/**
 * The shapes of the server's requests and responses, with the names the OpenAPI document gives
 * them. Every body is parsed here before a route sees it; nothing read from a client is cast.
 *
 * @module
 */

import { z } from "@hono/zod-openapi";
import { IMAGE_NAME_PATTERN, isValidName, MIN_MEMORY_MB, NAME_RULE } from "../api/sandbox_spec.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;

/** Labels a client attaches to a sandbox to find it again. */
export const LABELS = z.record(
  z.string().regex(LABEL_KEY, "is not a label key"),
  z.string().max(256),
).refine((labels) => Object.keys(labels).length <= 64, "at most 64 labels")
  .openapi("Labels", { example: { team: "web", job: "1234" } });

/**
 * A route's error response, for its `responses`.
 *
 * @example
 * ```ts
 * import { errorReply } from "./schemas.ts";
 * const responses = { 404: errorReply("No such sandbox") };
 * ```
 */
export function errorReply(description: string) {
  return { description, content: { "application/json": { schema: ERROR } } };
}

/**
 * A route's JSON response, for its `responses`.
 *
 * @example
 * ```ts
 * import { jsonReply } from "./schemas.ts";
 * import { z } from "@hono/zod-openapi";
 * const responses = { 200: jsonReply(z.object({ ok: z.boolean() }), "Done") };
 * ```
 */
export function jsonReply(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** The error body every failure has. */
export const ERROR = z.object({
  error: z.object({
    kind: z.string().openapi({ example: "not_found" }),
    code: z.string().openapi({ example: "session_unknown" }),
    message: z.string(),
  }),
}).openapi("Error");

const ENV = z.record(z.string().regex(ENV_NAME, "is not a variable name"), z.string().max(131072));

/** A secret bound to a host. */
export const SECRET = z.strictObject({
  host: z.string().min(1).max(253).openapi({ example: "api.example.com" }),
  port: z.number().int().min(1).max(65535).optional(),
  header: z.string().min(1).max(64).optional().openapi({ description: "Default authorization" }),
  scheme: z.string().max(32).optional().openapi({ example: "Bearer" }),
  value: z.string().min(1).max(8192).refine((v) => !/[\0\r\n]/.test(v), "contains a line break"),
  guestEnv: z.array(z.string().regex(ENV_NAME)).max(8).optional().openapi({
    description: "Guest variables that receive a placeholder",
  }),
}).openapi("Secret");

/** POST /v1/sandboxes. */
export const CREATE_SANDBOX = z.strictObject({
  name: z.string().refine(isValidName, NAME_RULE).optional(),
  image: z.string().regex(IMAGE_NAME_PATTERN).optional().openapi({ example: "default" }),
  snapshot: z.string().max(64).optional().openapi({
    description: "Start from this snapshot instead of booting (the image comes with it)",
  }),
  share: z.string().max(4096).optional().openapi({
    description: "Host directory shown at /workspace (absolute)",
  }),
  projectDir: z.string().max(4096).optional().openapi({
    description: "Where .agentbox.toml is read; default: the share, else the server's directory",
  }),
  net: z.enum(["none", "allowlist", "open", "learn"]).optional(),
  allow: z.array(z.string().max(256)).max(1024).optional(),
  deny: z.array(z.string().max(256)).max(1024).optional(),
  tlsInspect: z.boolean().optional(),
  env: ENV.optional(),
  user: z.string().max(32).optional(),
  workdir: z.string().max(4096).optional(),
  cpus: z.number().int().min(1).max(64).optional(),
  memoryMb: z.number().int().min(MIN_MEMORY_MB).max(1024 * 1024).optional(),
  timeoutSec: z.number().int().min(0).max(7 * 24 * 3600).optional().openapi({
    description: "Stop the sandbox this many seconds after it started (0 or absent: never)",
  }),
  labels: LABELS.optional(),
  approvalTimeoutSec: z.number().int().min(0).max(3600).optional().openapi({
    description: "How long a connection to a graylisted host waits for an answer through " +
      "/v1/approvals (default 30; 0: refuse graylisted hosts at once)",
  }),
  secrets: z.array(SECRET).max(32).optional().openapi({
    description: "Secrets the proxy adds to requests to their host (HTTPS, inspected); the " +
      "guest sees only a placeholder in guestEnv. Never stored on disk: a sandbox restarted " +
      "later (`agentbox start`) has none",
  }),
}).openapi("CreateSandbox");

/** A sandbox as the server shows it. */
export const SANDBOX = z.object({
  id: z.string(),
  name: z.string().nullable(),
  state: z.string().openapi({ example: "running" }),
  labels: z.record(z.string(), z.string()),
  createdBy: z.string().nullable(),
  project: z.string().nullable(),
  guestAddress: z.string().nullable(),
  changes: z.enum(["pending", "applied", "none"]),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  expiresAt: z.number().nullable(),
}).openapi("Sandbox");

/** POST /v1/sandboxes/{id}/exec. */
export const EXEC = z.strictObject({
  argv: z.array(z.string().max(131072)).min(1).max(4096),
  env: ENV.optional(),
  cwd: z.string().max(4096).optional(),
  user: z.string().max(32).optional(),
  // The whole JSON body is bounded at 1 MiB (app.ts): more stdin could never arrive.
  stdin: z.string().max(1024 * 1024).optional().openapi({
    description: "The command's stdin, base64 (within the 1 MiB JSON body: for more, write a " +
      "file and redirect from it)",
  }),
  timeoutSec: z.number().int().min(1).max(7 * 24 * 3600).optional(),
}).openapi("Exec");

/** One line of an exec's NDJSON stream (or one SSE event, named by `type`). */
export const EXEC_EVENT = z.discriminatedUnion("type", [
  z.object({ type: z.literal("started"), pid: z.number() }),
  z.object({ type: z.literal("stdout"), data: z.string().openapi({ description: "base64" }) }),
  z.object({ type: z.literal("stderr"), data: z.string().openapi({ description: "base64" }) }),
  z.object({
    type: z.literal("exit"),
    code: z.number().nullable(),
    signal: z.string().nullable(),
    timedOut: z.boolean(),
  }),
  z.object({ type: z.literal("error"), error: ERROR.shape.error }),
]).openapi("ExecEvent");

/** A guest path. */
export const GUEST_ENTRY = z.object({
  name: z.string(),
  path: z.string(),
  type: z.enum(["file", "dir", "symlink", "other"]),
  size: z.number(),
  mode: z.number(),
  mtimeMs: z.number(),
  target: z.string().optional(),
}).openapi("GuestEntry");

/** One changed path. */
export const CHANGE = z.object({
  path: z.string(),
  status: z.string().openapi({ example: "modified" }),
  applied: z.boolean(),
  binary: z.boolean(),
  hostChanged: z.boolean(),
}).passthrough().openapi("Change");

/** POST /v1/sandboxes/{id}/changes/apply. */
export const APPLY = z.strictObject({
  paths: z.array(z.string().max(4096)).max(10000).optional().openapi({
    description: "Project-relative paths or globs to apply; absent: all",
  }),
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
  allowSymlinks: z.boolean().optional(),
  exactModes: z.boolean().optional(),
  allowHighRisk: z.boolean().optional(),
}).openapi("ApplyRequest");

/** POST /v1/sandboxes/{id}/snapshots. */
export const SNAPSHOT = z.strictObject({
  name: z.string().max(64),
}).openapi("SnapshotRequest");

/** Path parameters naming a sandbox. */
export const SANDBOX_PARAM = z.object({
  id: z.string().min(1).max(128).openapi({
    param: { name: "id", in: "path" },
    description: "The sandbox's id, name or a unique id prefix",
  }),
});
