/**
 * `applyChangeset`: bring a session's changeset onto the host project directory, safely. Plan
 * (read-only) → journal with backups (fsync'd) → operations one at a time, each recorded → a
 * completion record → the journal removed. An interrupted apply is resumed by calling
 * `applyChangeset` again, or undone with {@linkcode rollbackApply}. See docs/apply.md for the
 * guarantees.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { createHash } from "node:crypto";
import { OpFailure, runOp, undoOp } from "./apply_ops.ts";
import type { OpContext } from "./apply_ops.ts";
import { type OutcomeResult, type PathOutcome, planApply, type PlanInput } from "./apply_plan.ts";
import type { UpperRecord } from "./changeset.ts";
import { printable } from "../terminal_text.ts";
import { readCompletion, recordCompletion } from "./completion.ts";
import {
  createJournal,
  JournalError,
  type JournalState,
  markDone,
  type OpDone,
  readJournal,
  removeJournal,
} from "./journal.ts";

/** Options of {@linkcode applyChangeset}. */
export interface ApplyOptions extends Omit<PlanInput, "alreadyApplied"> {
  /** Plan and report; change nothing. */
  dryRun?: boolean;
  /** Where the journal lives while an apply runs (`<session>/workspace/apply-journal`). */
  journalDir: string;
  /** Which paths of which changeset were applied (`<session>/workspace/applied.json`). */
  completionFile: string;
  /**
   * Where the journal of a completed apply is kept, with its backups, for `apply --undo`
   * (`<session>/workspace/last-apply`). The next apply that changes anything replaces it. Absent:
   * the journal is removed once the apply completes.
   */
  undoDir?: string;
  /** Test-only hook, see {@linkcode OpContext}. */
  beforeRename?: (index: number) => Promise<void>;
}

/** How an apply ended. */
export type ApplyStatus =
  | "applied"
  | "nothing-to-do"
  | "already-applied"
  | "dry-run"
  | "rolled-back"
  | "undone";

/** What an apply (or rollback) did, path by path. */
export interface ApplySummary {
  status: ApplyStatus;
  /** True when an interrupted apply was continued. */
  resumed: boolean;
  /** SHA-256 of the changeset's records. */
  changeset: string;
  /** One entry per path considered, in path order. */
  outcomes: PathOutcome[];
  counts: Record<OutcomeResult, number>;
}

/** The apply cannot proceed at all; the message says what to do. */
export class ApplyError extends AgentboxError {
  constructor(
    message: string,
    options?: ErrorOptions & { code?: "apply_failed" | "nothing_to_undo" | "nothing_to_roll_back" },
  ) {
    const code = options?.code ?? "apply_failed";
    super(message, { ...options, kind: code === "apply_failed" ? "failed" : "state", code });
    this.name = "ApplyError";
  }
}

/**
 * The identity of a changeset: SHA-256 of its validated records.
 *
 * @example
 * ```ts
 * import { changesetId } from "./apply.ts";
 * console.log(changesetId([{ path: "a", type: "deleted" }]).length); // 64
 * ```
 */
export function changesetId(records: readonly UpperRecord[]): string {
  return createHash("sha256").update(JSON.stringify(records)).digest("hex");
}

/**
 * Apply (or with `dryRun`, plan) a changeset. Resumes a pending journal of the same changeset.
 * Never throws for a single bad path: it is reported in the summary instead.
 *
 * @example
 * ```ts
 * import { applyChangeset } from "./apply.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const state = await Deno.makeTempDir();
 * const summary = await applyChangeset({
 *   root, records: [], blobs: `${state}/blobs`, baseline: { root, takenAt: 0, entries: {} },
 *   journalDir: `${state}/apply-journal`, completionFile: `${state}/applied.json`,
 * });
 * console.assert(summary.status === "nothing-to-do");
 * ```
 */
export async function applyChangeset(options: ApplyOptions): Promise<ApplySummary> {
  const changeset = changesetId(options.records);
  const pending = await readJournal(options.journalDir);
  if (pending?.ready) {
    if (pending.header.changeset !== changeset || pending.header.root !== options.root) {
      throw new ApplyError("An interrupted apply of a different changeset is pending");
    }
    if (options.dryRun) return summarize("dry-run", changeset, pending.header.outcomes, true);
    return await execute(pending, options, true);
  }
  if (pending) await removeJournal(options.journalDir);
  const alreadyApplied = await readCompletion(options.completionFile, changeset);
  const plan = await planApply({ ...options, alreadyApplied });
  if (options.dryRun) return summarize("dry-run", changeset, plan.outcomes, false);
  if (plan.ops.length === 0) {
    const already = alreadyApplied.size > 0 && plan.outcomes.every((o) => o.result === "unchanged");
    return summarize(
      already ? "already-applied" : "nothing-to-do",
      changeset,
      plan.outcomes,
      false,
    );
  }
  const header = {
    type: "header" as const,
    version: 1 as const,
    changeset,
    root: options.root,
    id: crypto.randomUUID().slice(0, 8),
    createdAt: Date.now(),
    outcomes: plan.outcomes,
  };
  // The previous apply's backups go now: only the last apply can be undone.
  if (options.undoDir) await removeJournal(options.undoDir);
  let journal: JournalState;
  try {
    journal = await createJournal(options.journalDir, header, plan.ops);
  } catch (error) {
    await removeJournal(options.journalDir);
    if (error instanceof JournalError) throw new ApplyError(`${error.message}: try again`);
    throw error;
  }
  return await execute(journal, options, false);
}

async function execute(
  journal: JournalState,
  options: ApplyOptions,
  resumed: boolean,
): Promise<ApplySummary> {
  const { header } = journal;
  const ctx: OpContext = {
    root: header.root,
    blobs: options.blobs,
    journalDir: journal.dir,
    applyId: header.id,
    beforeRename: options.beforeRename,
  };
  for (const { index, op } of journal.ops) {
    if (journal.done.has(index)) continue;
    let done: OpDone = { result: "applied" };
    try {
      await runOp(ctx, index, op);
    } catch (error) {
      if (!(error instanceof OpFailure)) {
        throw new ApplyError(`Cannot apply ${printable(op.path)}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      done = { result: error.result, reason: error.message };
    }
    await markDone(journal.dir, index, done);
    journal.done.set(index, done);
  }
  const outcomes = finalOutcomes(journal);
  const applied = outcomes.filter((o) => o.result === "applied").map((o) => o.path);
  await recordCompletion(options.completionFile, header.changeset, applied);
  if (options.undoDir) {
    await removeJournal(options.undoDir);
    await Deno.rename(journal.dir, options.undoDir);
  } else {
    await removeJournal(journal.dir);
  }
  return summarize("applied", header.changeset, outcomes, resumed);
}

/** The plan's outcomes, with every path whose operation failed reported as that failure. */
function finalOutcomes(journal: JournalState): PathOutcome[] {
  const byPath = new Map(journal.header.outcomes.map((o) => [o.path, { ...o }]));
  for (const { index, op } of journal.ops) {
    const done = journal.done.get(index);
    const outcome = byPath.get(op.path);
    if (!done || done.result === "applied" || !outcome || outcome.result !== "applied") continue;
    outcome.result = done.result;
    outcome.reason = done.reason;
  }
  return [...byPath.values()];
}

/**
 * Undo the interrupted apply whose journal is in `journalDir`: every operation that completed,
 * and the one that was running, are reverted newest first from the journal's backups. The journal
 * is removed once everything is back; if a path cannot be restored it stays, and running the
 * rollback again retries. Throws {@linkcode ApplyError} when there is nothing to roll back.
 *
 * @example
 * ```ts
 * import { rollbackApply } from "./apply.ts";
 * await rollbackApply({ journalDir: "/nonexistent" }).catch((e) => console.log(e.message));
 * ```
 */
export async function rollbackApply(options: { journalDir: string }): Promise<ApplySummary> {
  const journal = await readJournal(options.journalDir);
  if (!journal) {
    throw new ApplyError("No interrupted apply to roll back", { code: "nothing_to_roll_back" });
  }
  const { header } = journal;
  if (!journal.ready) {
    await removeJournal(journal.dir);
    return summarize("rolled-back", header.changeset, [], false);
  }
  const ctx = { root: header.root, blobs: "", journalDir: journal.dir, applyId: header.id };
  const inFlight = journal.ops.find((entry) => !journal.done.has(entry.index));
  const undo = journal.ops.filter((entry) =>
    entry === inFlight || journal.done.get(entry.index)?.result === "applied"
  );
  const outcomes = new Map<string, PathOutcome>();
  for (const { index, op, backup } of undo.reverse()) {
    const failed = outcomes.get(op.path)?.reason !== undefined;
    try {
      await undoOp(ctx, index, op, backup);
      if (!failed) outcomes.set(op.path, { path: op.path, result: "applied", action: "restore" });
    } catch (error) {
      const result = error instanceof OpFailure ? error.result : "refused";
      const reason = `cannot restore: ${(error as Error).message}`;
      outcomes.set(op.path, { path: op.path, result, action: "restore", reason });
    }
  }
  const list = [...outcomes.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  if (list.every((o) => o.result === "applied")) await removeJournal(journal.dir);
  return summarize("rolled-back", header.changeset, list, false);
}

/**
 * An apply's summary from its per-path outcomes.
 *
 * @example
 * ```ts
 * import { summarize } from "./apply.ts";
 * console.assert(summarize("applied", "", [], false).counts.applied === 0);
 * ```
 */
export function summarize(
  status: ApplyStatus,
  changeset: string,
  outcomes: PathOutcome[],
  resumed: boolean,
): ApplySummary {
  const counts = { applied: 0, unchanged: 0, skipped: 0, conflict: 0, refused: 0 };
  for (const o of outcomes) counts[o.result]++;
  return { status, resumed, changeset, outcomes, counts };
}
