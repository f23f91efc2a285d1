/**
 * `agentbox apply [SESSION]`: bring a session's workspace changeset onto the host project
 * directory, safely (see docs/apply.md), resume an interrupted apply, or roll it back.
 *
 * @module
 */

import {
  applyChanges,
  applyPending,
  type ApplyRequest,
  type ApplySummary,
  checkApplyRequest,
  type PathOutcome,
  rollbackChanges,
  undoChanges,
} from "../api/apply_changes.ts";
import { findChangesSession } from "../api/changes.ts";
import { openContext } from "../api/context.ts";
import { AgentboxError } from "../api/errors.ts";
import type { SessionRecord } from "../store/sessions.ts";
import { escapeControls, jsonSafe, printable } from "../terminal_text.ts";
import { reportError, UsageError } from "./errors.ts";
import { parseCommandArgs, projectOption } from "./options.ts";
import { printEvent } from "./print_event.ts";
import { submitForReview } from "./reviews.ts";
import type { ApplyReportData } from "./report_schemas.ts";
import { APPLY_REPORT_VERSION } from "./report_versions.ts";

/** Help text of `agentbox apply`. */
export const APPLY_HELP = `Apply a session's workspace changes to the project directory on the host.

Usage: agentbox apply [SESSION] [--share DIR] [--path GLOB]... [--dry-run] [--force]
                      [--allow-symlinks] [--exact-modes] [--yes-high-risk] [--json]
       agentbox apply [SESSION] --rollback | --undo [--json]
       agentbox apply [SESSION] --for-review [--path GLOB]... [--force] [--allow-symlinks]
                      [--exact-modes] [--yes-high-risk] [--json]

SESSION is a session's name, id or a unique prefix of an id; without it, the most recent
session of this project (the current directory, or --share DIR) with a changeset. apply says
which session and project it acts on. Paths are only written inside the project, never through
a symlink, and never inside .git. Running apply again after an interruption resumes it. The
first line says what happened ("Applied 5 of 9: 1 conflict, 3 held back."); nothing is created
for a change that is held back, not even its parent directories.

Options:
  --share DIR       the project whose latest session to apply (default: the current directory)
  --path GLOB       apply only matching paths (repeatable; * and ? within a name, ** across
                    directories; a directory selects everything below it)
  --dry-run         print what would happen; change nothing
  --force           overwrite host files that changed since the session started
  --allow-symlinks  create the guest's symlinks (those leaving the project are high-risk)
  --exact-modes     give files and directories the guest's permission bits; by default only
                    the execute bit crosses, as with git, and your umask decides the rest
  --yes-high-risk   apply high-risk changes (dotfiles and dot-directories, CI workflows,
                    package.json, Makefiles, CLAUDE.md, ...: docs/apply.md lists them) without
                    asking; on a terminal you are asked
  --rollback        undo an interrupted apply, from its journal
  --undo            undo the last completed apply of SESSION: each path it changed goes back
                    to what was there before, unless it was edited since (then it is kept and
                    listed as a conflict); its backups are kept until the next apply
  --for-review      write nothing: submit this apply (its paths and flags) for review, held
                    until someone accepts it (then it runs as asked) or rejects it with
                    \`agentbox review ID accept|reject\` (\`agentbox reviews\` lists them)
  --json            print one JSON report on stdout (fields: docs/cli.md)
  -v, --verbose     print the chain of causes of an error
  -h, --help        show this help

Exit status: 0 everything applied (or already was, or was restored); 1 some paths were held
back, refused or in conflict (each is listed, the first line counts them); 2 the apply could not
run or stopped (see the message); 125 usage.`;

/** Exit statuses of `agentbox apply` besides 0 and the usage error (125). */
export const APPLY_EXIT = { incomplete: 1, failed: 2 } as const;

/** Test-only: pause (so a test can SIGKILL the process) before the Nth rename of a write. */
const TEST_PAUSE_ENV = "AGENTBOX_TEST_APPLY_PAUSE_AT_WRITE";

/** Run `agentbox apply ARGS`. */
export async function applyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("apply", args, {
    path: { type: "string", multiple: true },
    share: { type: "string" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    "allow-symlinks": { type: "boolean" },
    "exact-modes": { type: "boolean" },
    "yes-high-risk": { type: "boolean" },
    rollback: { type: "boolean" },
    undo: { type: "boolean" },
    "for-review": { type: "boolean" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(APPLY_HELP);
    return 0;
  }
  if (positionals.length > 1) {
    throw new UsageError("Too many arguments: see `agentbox apply --help`");
  }
  const action = values.undo ? "undo" : values.rollback ? "rollback" : "apply";
  if (values.undo && values.rollback) {
    throw new UsageError("--undo and --rollback cannot be used together");
  }
  const applyOnly = ["path", "dry-run", "force", "allow-symlinks", "exact-modes", "yes-high-risk"];
  const extra = applyOnly.find((flag) => values[flag as keyof typeof values] !== undefined);
  if (action !== "apply" && extra) {
    throw new UsageError(`--${extra} cannot be used with --${action}`);
  }
  if (values["for-review"] && (action !== "apply" || values["dry-run"])) {
    throw new UsageError(
      `--for-review cannot be used with --${action === "apply" ? "dry-run" : action}`,
    );
  }
  const request: ApplyRequest = {
    paths: (values.path ?? []) as string[],
    dryRun: !!values["dry-run"],
    force: !!values.force,
    allowSymlinks: !!values["allow-symlinks"],
    exactModes: !!values["exact-modes"],
    allowHighRisk: !!values["yes-high-risk"],
    beforeRename: testPauseHook(),
  };
  checkApplyRequest(request);
  const json = !!values.json;
  await using ctx = openContext({ onEvent: printEvent });
  const { session, project } = await findChangesSession(ctx, {
    ref: positionals[0],
    project: await projectOption("apply", values.share),
    purpose: "apply",
  });
  const verb = { apply: "applying", rollback: "rolling back", undo: "undoing the last apply of" };
  if (values["for-review"]) {
    return await submitForReview(ctx, session, request, { json, project });
  }
  console.error(
    `agentbox: ${verb[action]} session ${session.id.slice(0, 8)}, project ${printable(project)}`,
  );
  try {
    const summary = action === "undo"
      ? await undoChanges(ctx, session)
      : action === "rollback"
      ? await rollbackChanges(ctx, session)
      : await applyChanges(ctx, session, request, {
        confirmHighRisk: Deno.stdin.isTerminal() && !json ? confirmHighRisk : undefined,
      });
    printSummary(summary, { json, session: session.id, project });
    return applyExitStatus(summary);
  } catch (error) {
    if (error instanceof AgentboxError && ["usage", "not_found"].includes(error.kind)) throw error;
    const hinted = await applyPending(session) ? withHint(error as Error, session) : error;
    reportError(hinted, { verbose: !!values.verbose, json });
    return APPLY_EXIT.failed;
  }
}

/**
 * The exit status of an apply that ran: 0 when every path considered was applied or already was,
 * else {@linkcode APPLY_EXIT}.incomplete.
 *
 * @example
 * ```ts
 * import { applyExitStatus } from "./apply.ts";
 * const counts = { applied: 1, unchanged: 0, skipped: 0, conflict: 1, refused: 0 };
 * console.assert(applyExitStatus({ counts }) === 1);
 * ```
 */
export function applyExitStatus(summary: Pick<ApplySummary, "counts">): number {
  const { skipped, conflict, refused } = summary.counts;
  return skipped + conflict + refused > 0 ? APPLY_EXIT.incomplete : 0;
}

/**
 * On a terminal, list the held-back high-risk changes and ask once (the `confirmHighRisk`
 * decision of the core's apply). The list says what the apply would do to each path's mode too,
 * as the summary does for the rest.
 *
 * @example
 * ```ts ignore
 * import { confirmHighRisk } from "./apply.ts";
 * await applyChanges(ctx, session, {}, { confirmHighRisk });
 * ```
 */
export function confirmHighRisk(held: PathOutcome[]): Promise<boolean> {
  console.log("These changes are high-risk (the host may run or trust them):");
  for (const o of held) {
    console.log(
      escapeControls(`  ${printable(o.path)}: ${o.highRisk}${o.note ? ` (${o.note})` : ""}`),
    );
  }
  return Promise.resolve(confirm(`Apply these ${held.length} high-risk change(s) too?`));
}

function testPauseHook(): ((index: number) => Promise<void>) | undefined {
  const at = Number(Deno.env.get(TEST_PAUSE_ENV));
  if (!Number.isSafeInteger(at) || at < 1) return undefined;
  let writes = 0;
  return async () => {
    if (++writes !== at) return;
    console.error("agentbox: test pause");
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  };
}

/** Add what to do next when an interrupted apply is pending: resume it or roll it back. */
function withHint(error: Error, session: SessionRecord): Error {
  const id = session.id.slice(0, 8);
  return new AgentboxError(
    `${error.message}: run \`agentbox apply ${id}\` to resume, or \`agentbox apply ${id} --rollback\``,
    { kind: "failed", code: asCode(error), cause: error.cause },
  );
}

function asCode(error: Error): string {
  return error instanceof AgentboxError ? error.code : "apply_failed";
}

/**
 * The headline of a summary: what happened, in numbers ("Applied 5 of 9: 1 conflict, 3 held
 * back.").
 *
 * @example
 * ```ts
 * import { applyHeadline } from "./apply.ts";
 * const counts = { applied: 5, unchanged: 0, skipped: 3, conflict: 1, refused: 0 };
 * console.log(applyHeadline({ status: "applied", resumed: false, counts }));
 * // Applied 5 of 9: 1 conflict, 3 held back.
 * ```
 */
export function applyHeadline(
  summary: Pick<ApplySummary, "status" | "resumed" | "counts">,
): string {
  const c = summary.counts;
  // Paths already as the guest left them are not news: the counts line says how many.
  const total = c.applied + c.skipped + c.conflict + c.refused;
  const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
  const rest = [
    c.conflict && plural(c.conflict, "conflict"),
    c.skipped && `${c.skipped} held back`,
    c.refused && `${c.refused} refused`,
  ].filter(Boolean).join(", ");
  const tail = rest ? `: ${rest}` : "";
  const resumed = summary.resumed && summary.status !== "dry-run"
    ? "Resumed an interrupted apply. "
    : "";
  switch (summary.status) {
    case "applied":
      return `${resumed}Applied ${c.applied} of ${total}${tail}.`;
    case "nothing-to-do":
      return total === 0 ? "Nothing to apply." : `Applied 0 of ${total}${tail}.`;
    case "already-applied":
      return "Already applied: nothing to do.";
    case "dry-run":
      return `Dry run, nothing was changed: would apply ${c.applied} of ${total}${tail}.`;
    case "rolled-back":
      return `Rolled back the interrupted apply${
        c.applied === total ? "" : `: ${total - c.applied} of ${total} could not be restored`
      }.`;
    case "undone":
      return `Undid the last apply: restored ${c.applied} of ${total}${tail}.`;
  }
}

/** Where {@linkcode printSummary} prints, and for which session. */
export interface SummaryOptions {
  /** One JSON report instead of lines (docs/cli.md, docs/schemas/apply-report.json). */
  json?: boolean;
  /** The session's id: the hints name it, so they can be pasted as they are. */
  session: string;
  /** The project directory (in the JSON report). */
  project: string;
  log?: (line: string) => void;
}

/**
 * Print `summary`: a headline saying what happened, one line per path that was not applied
 * (every path on a dry run), the counts and what to do about what was held back, as commands
 * naming the session. Guest-made names are escaped.
 *
 * @example
 * ```ts
 * import { printSummary } from "./apply.ts";
 * printSummary({
 *   status: "applied", resumed: false, changeset: "", outcomes: [],
 *   counts: { applied: 0, unchanged: 0, skipped: 0, conflict: 0, refused: 0 },
 * }, { session: "abc", project: "/p" });
 * ```
 */
export function printSummary(summary: ApplySummary, options: SummaryOptions): void {
  const log = options.log ?? console.log;
  if (options.json) {
    log(jsonSafe(JSON.stringify(applyReport(summary, options))));
    return;
  }
  const dry = summary.status === "dry-run";
  log(applyHeadline(summary));
  for (const o of summary.outcomes) {
    const line = formatOutcome(o, dry);
    if (line) log(line);
  }
  const c = summary.counts;
  const verb = dry ? "would apply" : summary.status === "undone" ? "restored" : "applied";
  log(
    `${verb} ${c.applied}, unchanged ${c.unchanged}, skipped ${c.skipped}, conflicts ${c.conflict}, refused ${c.refused}`,
  );
  for (const hint of applyHints(summary, options.session)) log(hint);
}

/**
 * The `apply --json` report: the summary with its version, session, project and exit status.
 *
 * @example
 * ```ts
 * import { applyReport } from "./apply.ts";
 * const summary = {
 *   status: "nothing-to-do" as const, resumed: false, changeset: "", outcomes: [],
 *   counts: { applied: 0, unchanged: 0, skipped: 0, conflict: 0, refused: 0 },
 * };
 * console.assert(applyReport(summary, { session: "s", project: "/p" }).version === 1);
 * ```
 */
export function applyReport(
  summary: ApplySummary,
  meta: { session: string; project: string },
): ApplyReportData {
  return {
    version: APPLY_REPORT_VERSION,
    session: meta.session,
    project: meta.project,
    exitCode: applyExitStatus(summary),
    ...summary,
  };
}

/**
 * One outcome as a line, or `undefined` when it is not worth a line (applied or unchanged
 * without a note, outside a dry run).
 *
 * @example
 * ```ts
 * import { formatOutcome } from "./apply.ts";
 * console.log(formatOutcome({ path: "a\nb", result: "conflict", reason: "modified on the host" }, false));
 * // conflict  a\x0ab: modified on the host
 * ```
 */
export function formatOutcome(o: PathOutcome, dry: boolean): string | undefined {
  const quiet = o.result === "applied" || o.result === "unchanged";
  if (quiet && !o.note && !(dry && o.result === "applied")) return undefined;
  const label = o.result === "applied" && dry ? `would ${o.action ?? "apply"}` : o.result;
  const reason = o.reason && !quiet ? `: ${o.reason}` : "";
  const risk = o.highRisk ? ` [high-risk: ${o.highRisk}]` : "";
  const note = o.note ? ` (${o.note})` : "";
  return escapeControls(`${label.padEnd(9)} ${printable(o.path)}${reason}${risk}${note}`);
}

/**
 * What to do about what an apply left, as commands naming the session (copy-pasteable).
 *
 * @example
 * ```ts
 * import { applyHints } from "./apply.ts";
 * const outcomes = [{ path: "a", result: "conflict" as const, reason: "modified on the host" }];
 * const counts = { applied: 0, unchanged: 0, skipped: 0, conflict: 1, refused: 0 };
 * console.log(applyHints({ status: "applied", outcomes, counts }, "1234abcd-x"));
 * ```
 */
export function applyHints(
  summary: Pick<ApplySummary, "status" | "outcomes" | "counts">,
  session: string,
): string[] {
  const id = session.slice(0, 8);
  const { outcomes, counts, status } = summary;
  const has = (test: (o: PathOutcome) => boolean) => outcomes.some(test);
  if (status === "undone" || status === "rolled-back") {
    if (counts.conflict + counts.refused === 0) return [];
    const again = status === "undone" ? "--undo" : "--rollback";
    return [
      `Paths not restored are listed above: fix them, then run \`agentbox apply ${id} ${again}\` again.`,
    ];
  }
  const out: string[] = [];
  if (has((o) => o.result === "conflict")) {
    out.push(
      `Conflicting paths changed on the host since the session started: \`agentbox apply ${id} --force\` overwrites them (add --path GLOB to pick paths).`,
    );
  }
  if (has((o) => o.result === "skipped" && !!o.highRisk)) {
    out.push(
      `High-risk changes were held back: review them with \`agentbox diff ${id}\`, then run \`agentbox apply ${id} --yes-high-risk\`.`,
    );
  }
  if (has((o) => o.result === "skipped" && !!o.reason?.includes("--allow-symlinks"))) {
    out.push(
      `Symlinks were not created: \`agentbox apply ${id} --allow-symlinks\` creates them.`,
    );
  }
  if (status === "dry-run" && counts.applied > 0) out.push(`Apply with \`agentbox apply ${id}\`.`);
  if (status === "applied" && counts.applied > 0) {
    out.push(`Undo this apply with \`agentbox apply ${id} --undo\`.`);
  }
  return out;
}
