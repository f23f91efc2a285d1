/**
 * The audit event: one structured record per thing that happened to a sandbox — a lifecycle
 * change, a command run (argv, user, exit status: never its output), an egress decision, an
 * approval asked or decided, an apply of its changes. Every sink (JSON lines, syslog,
 * OpenTelemetry) carries the same object; its schema is this module (published as
 * docs/schemas/audit-event.json, described in docs/audit.md).
 *
 * Stability promise, as for the JSON reports: within a `version`, fields are never removed,
 * renamed or given a new meaning, and a `type` never changes its meaning; new fields and new types
 * may appear (readers ignore what they do not know).
 *
 * @module
 */

import { z } from "zod";
import { AUDIT_EVENT_VERSION, MAX_ARGV_CHARS } from "./seal_event.ts";

export { AUDIT_EVENT_VERSION, MAX_ARGV_CHARS };

const session = z.object({
  id: z.string().describe("the session's id"),
  name: z.string().optional().describe("the session's name, when it has one"),
});

const base = {
  version: z.literal(AUDIT_EVENT_VERSION),
  id: z.string().describe("unique id of this event (a UUID)"),
  time: z.string().describe("when it happened, RFC 3339 in UTC with milliseconds"),
  actor: z.string().describe("who caused it: `cli:<user>`, or a server token's name"),
  session,
};

const error = z.object({
  code: z.string().describe("the error's stable code"),
  message: z.string(),
});

const execInfo = z.object({
  id: z.string().describe("ties exec.started to its exec.finished"),
  argv: z.array(z.string()).describe(`the command; cut to ${MAX_ARGV_CHARS} characters in all`),
  argvTruncated: z.boolean().optional().describe("argv was cut"),
  user: z.string().optional().describe("the guest user it ran as (absent: the image's default)"),
});

const applyInfo = {
  status: z.string().describe(
    "applied, nothing-to-do, already-applied, rolled-back, undone, or failed",
  ),
  changeset: z.string().optional().describe("SHA-256 of the changeset's records"),
  counts: z.record(z.string(), z.number().int()).optional().describe(
    "paths per outcome (applied, unchanged, skipped, conflict, refused)",
  ),
  paths: z.array(z.string()).describe("the project-relative paths changed on the host"),
  pathsTruncated: z.boolean().optional().describe("more paths changed than are listed"),
  error: error.optional().describe("with status failed"),
};

/** Every audit event, by `type`. */
export const AuditEventSchema = z.discriminatedUnion("type", [
  z.object({
    ...base,
    type: z.literal("sandbox.created"),
    image: z.string(),
    project: z.string().describe("the project directory"),
    detached: z.boolean().describe("a long-lived session (run -d, serve), not a one-shot run"),
  }).describe("a sandbox's network session exists; its VM is being started"),
  z.object({
    ...base,
    type: z.literal("sandbox.started"),
    restored: z.boolean().describe("restored from a snapshot rather than booted"),
    startMs: z.number().int().describe("from sandbox.created to ready"),
  }).describe("the VM is up and accepts commands"),
  z.object({
    ...base,
    type: z.literal("sandbox.stopped"),
    requests: z.number().int().describe("requests its network made"),
    refused: z.number().int().describe("requests refused"),
  }).describe("the VM and its network are stopped"),
  z.object({
    ...base,
    type: z.literal("sandbox.failed"),
    error,
  }).describe("starting failed, or a session's owner failed (a sandbox.stopped may follow)"),
  z.object({
    ...base,
    type: z.literal("sandbox.removed"),
  }).describe("the session and its files were removed (rm, prune)"),
  z.object({
    ...base,
    type: z.literal("exec.started"),
    exec: execInfo,
  }).describe("a command was started in the sandbox"),
  z.object({
    ...base,
    type: z.literal("exec.finished"),
    exec: execInfo,
    exitCode: z.number().int().nullable().describe("null when a signal ended it or it never ran"),
    signal: z.string().nullable(),
    timedOut: z.boolean(),
    durationMs: z.number().int(),
    error: error.optional().describe("it could not run, or the VM died under it"),
  }).describe("a command ended"),
  z.object({
    ...base,
    type: z.literal("egress.decision"),
    method: z.string(),
    scheme: z.enum(["http", "https"]),
    host: z.string().describe("canonical host name"),
    port: z.number().int(),
    decision: z.enum(["allow", "deny"]),
    rule: z.string().describe("the policy rule that decided"),
    kind: z.enum(["request", "tunnel"]).describe(
      "tunnel: the transport of inspected requests, which have events of their own",
    ),
  }).describe("the egress proxy decided a request (before any byte went upstream)"),
  z.object({
    ...base,
    type: z.literal("approval.requested"),
    host: z.string(),
    port: z.number().int(),
    rule: z.string().describe("the graylist rule that matched"),
    approval: z.string().optional().describe("the approval's id, when it has one"),
  }).describe("a graylisted destination waits for a human decision"),
  z.object({
    ...base,
    type: z.literal("approval.decided"),
    host: z.string(),
    port: z.number().int(),
    rule: z.string(),
    approval: z.string().optional(),
    decision: z.enum(["allow", "once", "session", "always", "deny", "timeout"]).describe(
      "allow: allowed, how long not said (the terminal prompt); once, session, always: allowed " +
        "for this request, this session, or added to the project's allowlist",
    ),
    by: z.string().describe("who decided: `cli:<user>`, a token's name, or `timeout`"),
  }).describe("a graylisted destination was allowed or refused"),
  z.object({ ...base, type: z.literal("changes.applied"), ...applyInfo }).describe(
    "a session's changes were applied to the host (or the apply failed)",
  ),
  z.object({ ...base, type: z.literal("changes.rolled_back"), ...applyInfo }).describe(
    "an interrupted apply was rolled back",
  ),
  z.object({ ...base, type: z.literal("changes.undone"), ...applyInfo }).describe(
    "the last apply was undone",
  ),
]).describe("agentbox audit event (docs/audit.md)");

/** One audit event. */
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** Every event type. */
export type AuditEventType = AuditEvent["type"];

type Envelope = "version" | "id" | "time" | "actor";

/** An event as its emitter writes it: the envelope (version, id, time, actor) is added. */
export type NewAuditEvent = AuditEvent extends infer E
  ? E extends AuditEvent ? Omit<E, Envelope> : never
  : never;
