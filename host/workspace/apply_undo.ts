/**
 * `apply --undo`: take back the last completed apply from the journal it left behind (see the
 * `undoDir` of {@linkcode ApplyOptions}). Each operation is reverted newest first, but only while
 * its path still holds exactly what the apply put there: a path edited since is a conflict and
 * keeps the edit. The undone paths leave the completion record, so applying again brings them
 * back; the kept journal goes once everything is undone (a conflict keeps it, to retry).
 *
 * @module
 */

import { ApplyError, type ApplyOptions, type ApplySummary, summarize } from "./apply.ts";
import { type OpContext, OpFailure, undoOp } from "./apply_ops.ts";
import type { ApplyOp, PathOutcome } from "./apply_plan.ts";
import { forgetCompletion } from "./completion.ts";
import { hashUnder } from "./host_file.ts";
import { readJournal, removeJournal } from "./journal.ts";
import { lstatIfExists, UnsafePathError, verifyParents } from "./safe_path.ts";

/**
 * Undo the apply whose journal was kept in `undoDir`. Throws {@linkcode ApplyError}
 * (`nothing_to_undo`) when there is none.
 *
 * @example
 * ```ts
 * import { undoApply } from "./apply_undo.ts";
 * await undoApply({ undoDir: "/nonexistent", completionFile: "/nonexistent.json" })
 *   .catch((e) => console.log(e.code)); // nothing_to_undo
 * ```
 */
export async function undoApply(
  options: Required<Pick<ApplyOptions, "undoDir" | "completionFile">>,
): Promise<ApplySummary> {
  const journal = await readJournal(options.undoDir);
  if (!journal?.ready) {
    throw new ApplyError("No completed apply to undo (only the last apply can be undone)", {
      code: "nothing_to_undo",
    });
  }
  const { header } = journal;
  const ctx: OpContext = {
    root: header.root,
    blobs: "",
    journalDir: journal.dir,
    applyId: header.id,
  };
  const undo = journal.ops.filter((entry) => journal.done.get(entry.index)?.result === "applied");
  const outcomes = new Map<string, PathOutcome>();
  for (const { index, op, backup } of undo.reverse()) {
    if (outcomes.get(op.path)?.reason !== undefined) continue;
    try {
      const changed = await changedSinceApply(header.root, op);
      if (changed) throw new OpFailure("conflict", `${changed} since the apply: kept`);
      await undoOp(ctx, index, op, backup);
      outcomes.set(op.path, { path: op.path, result: "applied", action: "restore" });
    } catch (error) {
      const result = error instanceof OpFailure ? error.result : "refused";
      const reason = error instanceof OpFailure
        ? error.message
        : `cannot restore: ${(error as Error).message}`;
      outcomes.set(op.path, { path: op.path, result, action: "restore", reason });
    }
  }
  const list = [...outcomes.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const restored = list.filter((o) => o.result === "applied").map((o) => o.path);
  await forgetCompletion(options.completionFile, header.changeset, restored);
  if (restored.length === list.length) await removeJournal(journal.dir);
  return summarize("undone", header.changeset, list, false);
}

/**
 * Why the host's `op.path` no longer holds what operation `op` made of it, or `undefined` when it
 * still does.
 */
async function changedSinceApply(root: string, op: ApplyOp): Promise<string | undefined> {
  try {
    if ((await verifyParents(root, op.path)) === "missing") {
      return op.kind === "remove" ? undefined : "removed on the host";
    }
  } catch (error) {
    if (error instanceof UnsafePathError) return "a parent directory changed on the host";
    throw error;
  }
  const info = await lstatIfExists(`${root}/${op.path}`);
  switch (op.kind) {
    case "remove":
      return info ? "created again on the host" : undefined;
    case "mkdir":
      return info?.isDirectory ? undefined : "no longer a directory on the host";
    case "chmod":
      return info && ((info.mode ?? 0) & 0o777) === op.mode
        ? undefined
        : "mode changed on the host";
    case "symlink":
      if (!info?.isSymlink) return "no longer the applied symlink";
      return (await Deno.readLink(`${root}/${op.path}`)) === op.target
        ? undefined
        : "symlink changed on the host";
    case "write":
      if (!info?.isFile || info.size !== op.size) return "modified on the host";
      return (await hashUnder(root, op.path)) === op.sha256 ? undefined : "modified on the host";
  }
}
