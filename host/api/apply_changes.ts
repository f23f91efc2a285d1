/**
 * Applying a session's changes to its project directory, with every decision passed in: the
 * flags as data, and the one question an apply may need answered (apply the high-risk changes
 * too?) as a callback the front end supplies — the CLI asks on a terminal, a server would read
 * the answer from the request. Also resuming, rolling back an interrupted apply, and undoing the
 * last one. The mechanism and its guarantees are host/workspace/apply.ts (docs/apply.md).
 *
 * Codes thrown here: those of changes.ts (`no_changeset`, `changeset_invalid`), `apply_failed`
 * (the apply could not run or stopped), `nothing_to_roll_back`, `nothing_to_undo`, and
 * `bad_glob` (a `paths` glob that cannot be used).
 *
 * @module
 */

import { applyChangeset, type ApplySummary, rollbackApply } from "../workspace/apply.ts";
import type { PathOutcome } from "../workspace/apply_plan.ts";
import { undoApply } from "../workspace/apply_undo.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { readJournal } from "../workspace/journal.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { compileGlob } from "../workspace/path_glob.ts";
import { applyPaths, loadChanges, type SessionRef } from "./changes.ts";
import { errorInfo, type SessionAuditEvent, sessionAuditor } from "./audit.ts";
import type { ApiContext } from "./context.ts";

export type { ApplyStatus, ApplySummary } from "../workspace/apply.ts";
export type { OutcomeResult, PathOutcome } from "../workspace/apply_plan.ts";

/** What to apply and how. */
export interface ApplyRequest {
  /** Globs restricting the paths applied (path_glob.ts syntax); empty: all. */
  paths?: string[];
  /** Plan and report; change nothing. */
  dryRun?: boolean;
  /** Overwrite host paths that changed since the session started. */
  force?: boolean;
  /** Create the guest's symlinks. */
  allowSymlinks?: boolean;
  /** Give paths the guest's permission bits, not only the execute bit. */
  exactModes?: boolean;
  /** Apply high-risk changes without asking. */
  allowHighRisk?: boolean;
  /** Test seam: awaited before the rename of each write (see host/workspace/apply_ops.ts). */
  beforeRename?: (index: number) => Promise<void>;
}

/** The decisions an apply may need from whoever asked for it. */
export interface ApplyDecisions {
  /**
   * Called once, before anything is written, with the high-risk changes that would be held back
   * (each with what the apply would do to it); resolves to true to apply them too. Absent, or
   * `allowHighRisk`/`dryRun` set: they are held back (reported as `skipped`).
   */
  confirmHighRisk?: (changes: PathOutcome[]) => Promise<boolean>;
}

/**
 * Apply the stored changeset of `session` to its project directory (or resume the interrupted
 * apply of it). Never throws for a single path: each is reported in the summary.
 *
 * @example
 * ```ts ignore
 * import { applyChanges } from "./apply_changes.ts";
 * const summary = await applyChanges(ctx, session, { force: false }, {
 *   confirmHighRisk: async (changes) => changes.every((c) => c.path === "package.json"),
 * });
 * ```
 */
export async function applyChanges(
  ctx: ApiContext,
  session: SessionRef,
  request: ApplyRequest,
  decisions: ApplyDecisions = {},
): Promise<ApplySummary> {
  checkApplyRequest(request);
  const changeset = await loadChanges(ctx, session);
  const state = applyPaths(changeset);
  const options = {
    root: changeset.baseline.root,
    records: changeset.records,
    baseline: changeset.baseline,
    blobs: changeset.paths.blobs,
    paths: request.paths ?? [],
    dryRun: !!request.dryRun,
    force: !!request.force,
    allowSymlinks: !!request.allowSymlinks,
    exactModes: !!request.exactModes,
    allowHighRisk: !!request.allowHighRisk,
    journalDir: state.journal,
    completionFile: state.completion,
    undoDir: state.undo,
    beforeRename: request.beforeRename,
  };
  if (!options.allowHighRisk && !options.dryRun && decisions.confirmHighRisk) {
    const preview = await applyChangeset({ ...options, dryRun: true, allowHighRisk: true });
    const held = preview.outcomes.filter((o) => o.highRisk && o.result === "applied");
    if (held.length > 0) options.allowHighRisk = await decisions.confirmHighRisk(held);
  }
  if (options.dryRun) return await applyChangeset(options);
  return await audited(ctx, session, "changes.applied", () => applyChangeset(options));
}

/** Most paths an apply event lists. */
const MAX_EVENT_PATHS = 1000;

/**
 * Run `apply` and emit `type` for `session` with what it changed on the host — or, when it
 * throws, with status `failed` and the error.
 */
async function audited(
  ctx: ApiContext,
  session: SessionRef,
  type: "changes.applied" | "changes.rolled_back" | "changes.undone",
  apply: () => Promise<ApplySummary>,
): Promise<ApplySummary> {
  const audit = sessionAuditor(ctx, { id: session.id });
  let summary: ApplySummary;
  try {
    summary = await apply();
  } catch (error) {
    audit({ type, status: "failed", paths: [], error: errorInfo(error) } as SessionAuditEvent);
    throw error;
  }
  const changed = summary.outcomes.filter((o) => o.result === "applied").map((o) => o.path);
  audit({
    type,
    status: summary.status,
    changeset: summary.changeset,
    counts: summary.counts,
    paths: changed.slice(0, MAX_EVENT_PATHS),
    ...(changed.length > MAX_EVENT_PATHS ? { pathsTruncated: true } : {}),
  } as SessionAuditEvent);
  return summary;
}

/**
 * Throw the `usage` error a request would meet (a `paths` glob that cannot be used, `bad_glob`)
 * before anything is looked up: front ends call it first to fail fast.
 *
 * @example
 * ```ts
 * import { checkApplyRequest } from "./apply_changes.ts";
 * try {
 *   checkApplyRequest({ paths: ["/etc/*"] });
 * } catch (error) {
 *   console.log((error as Error).message); // Path glob "/etc/*" is absolute: …
 * }
 * ```
 */
export function checkApplyRequest(request: ApplyRequest): void {
  for (const glob of request.paths ?? []) compileGlob(glob);
}

/**
 * Undo the interrupted apply of `session`'s changes from its journal.
 *
 * @example
 * ```ts ignore
 * import { rollbackChanges } from "./apply_changes.ts";
 * const summary = await rollbackChanges(ctx, session);
 * ```
 */
export async function rollbackChanges(
  ctx: ApiContext,
  session: SessionRef,
): Promise<ApplySummary> {
  return await audited(
    ctx,
    session,
    "changes.rolled_back",
    () => rollbackApply({ journalDir: statePaths(session).journal }),
  );
}

/**
 * Undo the last completed apply of `session`'s changes: every path it changed that still holds
 * what it wrote goes back to what was there before; a path edited since is a `conflict` and kept.
 *
 * @example
 * ```ts ignore
 * import { undoChanges } from "./apply_changes.ts";
 * const summary = await undoChanges(ctx, session);
 * ```
 */
export async function undoChanges(
  ctx: ApiContext,
  session: SessionRef,
): Promise<ApplySummary> {
  const state = statePaths(session);
  return await audited(
    ctx,
    session,
    "changes.undone",
    () => undoApply({ undoDir: state.undo, completionFile: state.completion }),
  );
}

/**
 * Whether an interrupted apply of `session`'s changes is pending (it can be resumed or rolled
 * back).
 *
 * @example
 * ```ts ignore
 * import { applyPending } from "./apply_changes.ts";
 * if (await applyPending(session)) console.log("resume it, or roll it back");
 * ```
 */
export async function applyPending(session: SessionRef): Promise<boolean> {
  const pending = await readJournal(statePaths(session).journal).catch(() => null);
  return pending?.ready ?? false;
}

function statePaths(session: SessionRef) {
  return applyPaths({ paths: changesetPaths(sessionStateDir(session.id)) });
}
