/**
 * `agentbox apply [SESSION]`: bring a session's workspace changeset onto the host project
 * directory, safely (see docs/apply.md), resume an interrupted apply, or roll it back.
 *
 * @module
 */

import { openDatabase } from "../store/database.ts";
import { findSession, type SessionRecord } from "../store/sessions.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import {
  applyChangeset,
  ApplyError,
  type ApplyOptions,
  type ApplySummary,
  rollbackApply,
} from "../workspace/apply.ts";
import type { PathOutcome } from "../workspace/apply_plan.ts";
import { baselineRoot, readBaseline } from "../workspace/baseline.ts";
import { ChangesetError, changesetPaths, validateRecords } from "../workspace/changeset.ts";
import { escapeControls, printable } from "../terminal_text.ts";
import { readJournal } from "../workspace/journal.ts";
import { latestSessionWithChanges, sessionStateDir } from "../workspace/latest_session.ts";
import { compileGlob, GlobError } from "../workspace/path_glob.ts";
import { reportError, UsageError } from "./errors.ts";
import { parseCommandArgs, projectOption } from "./options.ts";

/** Help text of `agentbox apply`. */
export const APPLY_HELP = `Apply a session's workspace changes to the project directory on the host.

Usage: agentbox apply [SESSION] [--share DIR] [--path GLOB]... [--dry-run] [--force]
                      [--allow-symlinks] [--exact-modes] [--yes-high-risk] [--rollback]
                      [--json]

SESSION is a session's name, id or a unique prefix of an id; without it, the most recent
session of this project (the current directory, or --share DIR) with a changeset. apply says
which session and project it acts on. Paths are only written inside the project, never through
a symlink, and never inside .git. Running apply again after an interruption resumes it.

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
  --json            print the summary as one JSON object
  -v, --verbose     print the chain of causes of an error
  -h, --help        show this help

Exit status: 0 everything applied (or already was); 1 some paths were skipped, refused or in
conflict (each is listed); 2 the apply could not run or stopped (see the message); 125 usage.`;

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
    json: { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(APPLY_HELP);
    return 0;
  }
  const globs = globOption(values.path);
  const session = await pickSession(positionals, await projectOption("apply", values.share));
  const paths = changesetPaths(sessionStateDir(session.id));
  const journalDir = `${paths.root}/apply-journal`;
  const project = await baselineRoot(paths.baseline) ?? session.project ?? "(unknown)";
  console.error(
    `agentbox: ${values.rollback ? "rolling back" : "applying"} session ` +
      `${session.id.slice(0, 8)}, project ${printable(project)}`,
  );
  try {
    const summary = values.rollback ? await rollbackApply({ journalDir }) : await applySession(
      session,
      {
        globs,
        dryRun: !!values["dry-run"],
        force: !!values.force,
        allowSymlinks: !!values["allow-symlinks"],
        exactModes: !!values["exact-modes"],
        allowHighRisk: !!values["yes-high-risk"],
      },
    );
    printSummary(summary, !!values.json);
    return outcomeFailed(summary) ? APPLY_EXIT.incomplete : 0;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    reportError(await withHint(error as Error, session, journalDir), { verbose: !!values.verbose });
    return APPLY_EXIT.failed;
  }
}

function globOption(value: unknown): string[] {
  const globs = (value ?? []) as string[];
  for (const glob of globs) {
    try {
      compileGlob(glob);
    } catch (error) {
      if (!(error instanceof GlobError)) throw error;
      throw new UsageError(`${error.message}: see \`agentbox apply --help\``);
    }
  }
  return globs;
}

async function pickSession(positionals: string[], project: string): Promise<SessionRecord> {
  if (positionals.length > 1) {
    throw new UsageError("Too many arguments: see `agentbox apply --help`");
  }
  const db = openDatabase();
  try {
    if (positionals.length === 0) {
      const latest = await latestSessionWithChanges(db, { project });
      if (!latest) {
        throw new UsageError(
          `No session of project ${printable(project)} has changes to apply: name a SESSION, ` +
            "or give the project with --share DIR",
        );
      }
      return latest;
    }
    // A long-lived session's name first, then an id or a prefix of one.
    const named = findLifecycle(db, positionals[0]);
    const session = findSession(db, named?.id ?? positionals[0]);
    if (!session) {
      throw new UsageError(`No single session matches "${printable(positionals[0])}"`);
    }
    return session;
  } finally {
    db.close();
  }
}

/** What to apply and how; the flags of `agentbox apply`. */
export interface ApplyFlags {
  globs?: string[];
  dryRun?: boolean;
  force?: boolean;
  allowSymlinks?: boolean;
  /** Give paths the guest's permission bits, not only the execute bit. */
  exactModes?: boolean;
  /** Apply high-risk changes; when false on a terminal, the user is asked. */
  allowHighRisk?: boolean;
}

/**
 * Apply the stored changeset of `session` to its project directory.
 *
 * @example
 * ```ts ignore
 * import { applySession } from "./apply.ts";
 * const summary = await applySession(session, { force: false });
 * ```
 */
export async function applySession(
  session: SessionRecord,
  flags: ApplyFlags,
): Promise<ApplySummary> {
  const paths = changesetPaths(sessionStateDir(session.id));
  const baseline = await readBaseline(paths.baseline);
  const options: ApplyOptions = {
    root: baseline.root,
    records: validateRecords(await readRecords(paths.records, session.id)),
    baseline,
    blobs: paths.blobs,
    paths: flags.globs ?? [],
    dryRun: !!flags.dryRun,
    force: !!flags.force,
    allowSymlinks: !!flags.allowSymlinks,
    exactModes: !!flags.exactModes,
    allowHighRisk: !!flags.allowHighRisk,
    journalDir: `${paths.root}/apply-journal`,
    completionFile: `${paths.root}/applied.json`,
    beforeRename: testPauseHook(),
  };
  if (!options.allowHighRisk && !options.dryRun && Deno.stdin.isTerminal()) {
    options.allowHighRisk = await confirmHighRisk(options);
  }
  return await applyChangeset(options);
}

async function readRecords(path: string, id: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new UsageError(`Session ${id.slice(0, 8)} has no changeset to apply`);
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ChangesetError(`${path} is not valid JSON: collect the changes again`, { cause });
  }
}

/**
 * On a terminal, list the held-back high-risk changes and ask once. The list says what the apply
 * would do to each path's mode too, as the summary does for the rest.
 */
async function confirmHighRisk(options: ApplyOptions): Promise<boolean> {
  const preview = await applyChangeset({ ...options, dryRun: true, allowHighRisk: true });
  const held = preview.outcomes.filter((o) => o.highRisk && o.result === "applied");
  if (held.length === 0) return false;
  console.log("These changes are high-risk (the host may run or trust them):");
  for (const o of held) {
    console.log(
      escapeControls(`  ${printable(o.path)}: ${o.highRisk}${o.note ? ` (${o.note})` : ""}`),
    );
  }
  return confirm(`Apply these ${held.length} high-risk change(s) too?`);
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

/** Add what to do next: resume or roll back when a journal is pending. */
async function withHint(error: Error, session: SessionRecord, journalDir: string) {
  const pending = await readJournal(journalDir).catch(() => null);
  if (!pending?.ready) return error;
  const id = session.id.slice(0, 8);
  return new ApplyError(
    `${error.message}: run \`agentbox apply ${id}\` to resume, or \`agentbox apply ${id} --rollback\``,
    { cause: error.cause },
  );
}

function outcomeFailed(summary: ApplySummary): boolean {
  const { skipped, conflict, refused } = summary.counts;
  return skipped + conflict + refused > 0;
}

const HEADLINE: Record<ApplySummary["status"], string> = {
  "applied": "Applied.",
  "nothing-to-do": "Nothing to apply.",
  "already-applied": "Already applied: nothing to do.",
  "dry-run": "Dry run: nothing was changed.",
  "rolled-back": "Rolled back the interrupted apply.",
};

/**
 * Print `summary`: a headline, one line per path that was not applied (every path on a dry run),
 * the counts and what to do about what was held back. Guest-made names are escaped.
 *
 * @example
 * ```ts
 * import { printSummary } from "./apply.ts";
 * printSummary({
 *   status: "applied", resumed: false, changeset: "", outcomes: [],
 *   counts: { applied: 0, unchanged: 0, skipped: 0, conflict: 0, refused: 0 },
 * }, false);
 * ```
 */
export function printSummary(
  summary: ApplySummary,
  json: boolean,
  log: (line: string) => void = console.log,
): void {
  if (json) {
    log(JSON.stringify(summary));
    return;
  }
  const dry = summary.status === "dry-run";
  log(
    `${summary.resumed && !dry ? "Resumed an interrupted apply. " : ""}${HEADLINE[summary.status]}`,
  );
  for (const o of summary.outcomes) {
    const line = formatOutcome(o, dry);
    if (line) log(line);
  }
  const c = summary.counts;
  log(
    `${
      dry ? "would apply" : "applied"
    } ${c.applied}, unchanged ${c.unchanged}, skipped ${c.skipped}, conflicts ${c.conflict}, refused ${c.refused}`,
  );
  for (const hint of hints(summary.outcomes)) log(hint);
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

function hints(outcomes: PathOutcome[]): string[] {
  const out: string[] = [];
  const has = (test: (o: PathOutcome) => boolean) => outcomes.some(test);
  if (has((o) => o.result === "conflict")) {
    out.push("Conflicting paths changed on the host: --force overwrites them, --path picks paths.");
  }
  if (has((o) => o.result === "skipped" && !!o.highRisk)) {
    out.push("High-risk changes were held back: review them, then apply with --yes-high-risk.");
  }
  if (has((o) => o.result === "skipped" && !!o.reason?.includes("--allow-symlinks"))) {
    out.push("Symlinks were not created: apply with --allow-symlinks to create them.");
  }
  return out;
}
