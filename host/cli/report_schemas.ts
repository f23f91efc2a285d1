/**
 * The JSON reports scripts and CI read — `exec --json` / `exec --report FILE` and `apply --json`
 * — as zod schemas (and the audit event's, docs/audit.md, published beside them): the one definition the reports are checked against in tests and the JSON
 * Schemas in docs/schemas/ are generated from (`deno task docs:schemas`, `z.toJSONSchema`).
 *
 * Stability promise (docs/cli.md): within a `version`, fields are never removed, renamed or given
 * a new meaning; new fields may appear (readers ignore unknown keys; the published schemas allow
 * them); `version` is bumped only if that promise has to be broken.
 *
 * @module
 */

import { z } from "zod";
import { AuditEventSchema } from "../api/audit_schema.ts";
import { APPLY_REPORT_VERSION, EXEC_REPORT_VERSION } from "./report_versions.ts";

const side = z.object({
  type: z.enum(["file", "dir", "symlink", "other"]),
  mode: z.number().int().optional().describe("permission bits (decimal)"),
  size: z.number().int().optional(),
  sha256: z.string().optional().describe("SHA-256 of the new content (new side of files)"),
  target: z.string().optional().describe("a symlink's target"),
});

/** One entry of a diff (as `agentbox diff --json`'s `entries`). */
const diffEntry = z.object({
  path: z.string().describe("project-relative, /-separated"),
  status: z.enum(["added", "modified", "deleted", "type-changed", "mode-changed", "unsupported"]),
  old: side.optional().describe("the host side (absent for added)"),
  new: side.optional().describe("the guest side (absent for deleted and unsupported)"),
  binary: z.boolean(),
  hostChanged: z.boolean().describe("the host path changed since the session started"),
  under: z.string().optional().describe("the deleted or replaced directory this entry is below"),
  detail: z.string().optional().describe("why an unsupported entry cannot be applied"),
  applied: z.boolean().optional().describe("an apply already brought this change to the host"),
});

const outcome = z.object({
  path: z.string(),
  result: z.enum(["applied", "unchanged", "skipped", "conflict", "refused"]).describe(
    "applied and unchanged are success; skipped means held back",
  ),
  action: z.string().optional().describe(
    "what was (or would be) done: write, delete, symlink, mkdir, chmod, restore",
  ),
  reason: z.string().optional().describe("why it was not applied"),
  highRisk: z.string().optional().describe("why the path is high-risk"),
  note: z.string().optional().describe("something changed on the way, e.g. setuid bits stripped"),
});

const counts = z.object({
  applied: z.number().int(),
  unchanged: z.number().int(),
  skipped: z.number().int(),
  conflict: z.number().int(),
  refused: z.number().int(),
});

const applySummary = {
  status: z.enum([
    "applied",
    "nothing-to-do",
    "already-applied",
    "dry-run",
    "rolled-back",
    "undone",
  ]),
  resumed: z.boolean().describe("an interrupted apply was continued"),
  changeset: z.string().describe("SHA-256 of the changeset's records"),
  outcomes: z.array(outcome).describe("one per path considered, in path order"),
  counts,
};

/** The `apply --json` report. */
export const ApplyReportSchema = z.object({
  version: z.literal(APPLY_REPORT_VERSION),
  session: z.string().describe("the session's id"),
  project: z.string().describe("the project directory applied to"),
  exitCode: z.number().int().describe("apply's exit status: 0 complete, 1 incomplete"),
  ...applySummary,
}).describe("agentbox apply --json");

/** The `apply --json` report. */
export type ApplyReportData = z.infer<typeof ApplyReportSchema>;

/** The `exec --json` / `exec --report FILE` report. */
export const ExecReportSchema = z.object({
  version: z.literal(EXEC_REPORT_VERSION),
  session: z.string().describe("the session's id (with --session, the running session's)"),
  exitCode: z.number().int().describe("agentbox's exit status (docs/cli.md, Exit status)"),
  code: z.number().int().nullable().describe("the command's exit code; null if a signal ended it"),
  signal: z.string().nullable().describe("the signal that ended the command, e.g. SIGKILL"),
  timedOut: z.boolean().describe("--timeout ended the command"),
  output: z.object({
    stdout: z.string().nullable().describe("file holding the command's stdout (--json), else null"),
    stderr: z.string().nullable().describe("file holding the command's stderr (--json), else null"),
  }),
  warnings: z.array(z.string()).describe("agentbox's warnings during the run"),
  changes: z.object({
    version: z.number().int(),
    session: z.string(),
    root: z.string().describe("the shared project directory"),
    entries: z.array(diffEntry),
  }).nullable().describe("as agentbox diff --json; null without --share (and with --session)"),
  applied: z.object({
    status: applySummary.status,
    resumed: applySummary.resumed,
    changeset: applySummary.changeset,
    outcomes: applySummary.outcomes,
    counts,
  }).nullable().describe("the apply summary with --apply, else null"),
  network: z.object({
    backend: z.enum(["tap", "user", "none"]),
    requests: z.number().int(),
    refused: z.array(z.object({
      host: z.string(),
      port: z.number().int(),
      rule: z.string(),
      count: z.number().int(),
    })),
  }).nullable().describe("null with --session (see agentbox requests)"),
  timings: z.object({
    bootMs: z.number().optional().describe("absent with --session"),
    commandMs: z.number(),
    collectMs: z.number().optional().describe("present when changes were collected"),
    totalMs: z.number(),
  }),
  system: z.unknown().optional().describe(
    "with --system-diff: the machine's changes, as `agentbox diff ID --system --json` " +
      "(docs/system-diff.md); absent otherwise",
  ),
}).describe("agentbox exec --json");

/** The `exec --json` report. */
export type ExecReport = z.infer<typeof ExecReportSchema>;

/** Every published report: its docs/schemas/ file name and its schema. */
export const REPORT_SCHEMAS = {
  "exec-report.json": ExecReportSchema,
  "apply-report.json": ApplyReportSchema,
  "audit-event.json": AuditEventSchema,
} as const;

/**
 * The JSON Schema (draft 2020-12) of `schema`, as published in docs/schemas/.
 *
 * @example
 * ```ts
 * import { jsonSchema, ExecReportSchema } from "./report_schemas.ts";
 * console.assert(jsonSchema(ExecReportSchema).includes('"exitCode"'));
 * ```
 */
export function jsonSchema(schema: z.ZodType): string {
  return JSON.stringify(z.toJSONSchema(schema, { io: "input" }), null, 2) + "\n";
}

if (import.meta.main) {
  // `deno task docs:schemas`: regenerate docs/schemas/.
  const dir = new URL("../../docs/schemas/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, schema] of Object.entries(REPORT_SCHEMAS)) {
    await Deno.writeTextFile(new URL(name, dir), jsonSchema(schema));
  }
}
