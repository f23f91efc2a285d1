/**
 * Running one planned operation on the host, and undoing it. Every step re-checks the parent
 * directories with `lstat` right before it acts; new content goes to a temporary name created
 * with `O_EXCL` in the same directory, is fsync'd, and is renamed onto the final name, so no
 * half-written file ever sits at a real path and a symlink there is replaced, never written
 * through. Both directions are idempotent: a resumed or rolled-back apply may repeat the step a
 * kill interrupted.
 *
 * @module
 */

import { baselineEntry } from "./baseline.ts";
import type { ApplyOp, OutcomeResult } from "./apply_plan.ts";
import { BlobMismatchError, copyVerified, SparseWriter } from "./blob.ts";
import type { BaselineEntry } from "./changeset.ts";
import { printable } from "../terminal_text.ts";
import { describeChange, sameFacts } from "./host_facts.ts";
import type { Backup } from "./journal.ts";
import { copyPreserving, syncDir } from "./journal.ts";
import { lstatIfExists, UnsafePathError, verifyParents } from "./safe_path.ts";

/** What an operation needs besides itself. */
export interface OpContext {
  root: string;
  /** The changeset's `blobs/` directory. */
  blobs: string;
  /** The journal directory (for backups). */
  journalDir: string;
  /** Names this apply's temporary files. */
  applyId: string;
  /** Test-only: awaited once a write's temporary file is complete, just before the rename. */
  beforeRename?: (index: number) => Promise<void>;
}

/** An operation that did not happen, and why; `result` is how the path is reported. */
export class OpFailure extends Error {
  constructor(readonly result: Exclude<OutcomeResult, "applied" | "unchanged">, message: string) {
    super(message);
    this.name = "OpFailure";
  }
}

/**
 * The temporary name operation `index` uses next to its target.
 *
 * @example
 * ```ts
 * import { tempPath } from "./apply_ops.ts";
 * console.log(tempPath("/p", "src/a.ts", "f00d", 3)); // /p/src/.agentbox-apply-f00d-3.tmp
 * ```
 */
export function tempPath(root: string, path: string, applyId: string, index: number): string {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? root : `${root}/${path.slice(0, slash)}`;
  return `${dir}/.agentbox-apply-${applyId}-${index}.tmp`;
}

/**
 * Run operation `index`. Returns quietly when the host already shows its result (a resumed
 * apply); throws {@linkcode OpFailure} when the host is not in the state the plan expected or the
 * content is bad.
 *
 * @example
 * ```ts
 * import { runOp } from "./apply_ops.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * await runOp({ root, blobs: "", journalDir: "", applyId: "x" }, 0, {
 *   kind: "mkdir", path: "new", before: null,
 * });
 * ```
 */
export async function runOp(ctx: OpContext, index: number, op: ApplyOp): Promise<void> {
  await removeTemp(ctx, index, op.path);
  const current = await currentFacts(ctx.root, op.path);
  if (!sameFacts(current, op.before)) {
    if (await isDone(ctx, op, current)) return;
    throw new OpFailure("conflict", `${describeChange(current, op.before)} during the apply`);
  }
  const target = `${ctx.root}/${op.path}`;
  switch (op.kind) {
    case "remove":
      return await remove(target, op.before);
    case "mkdir":
      await Deno.mkdir(target, { mode: 0o700 });
      return await syncDir(parentOf(target));
    case "chmod":
      return await Deno.chmod(target, op.mode);
    case "write":
      return await write(ctx, index, op);
    case "symlink": {
      const temp = tempPath(ctx.root, op.path, ctx.applyId, index);
      await Deno.symlink(op.target, temp);
      return await commit(ctx, index, op, temp);
    }
  }
}

/**
 * Put back what was at the path of operation `index` before it ran (the `before` facts and the
 * journal's backup), whether or not the operation completed.
 *
 * @example
 * ```ts
 * import { undoOp } from "./apply_ops.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * await Deno.mkdir(`${root}/new`);
 * await undoOp({ root, blobs: "", journalDir: "", applyId: "x" }, 0, {
 *   kind: "mkdir", path: "new", before: null,
 * });
 * ```
 */
export async function undoOp(
  ctx: OpContext,
  index: number,
  op: ApplyOp,
  backup?: Backup,
): Promise<void> {
  await removeTemp(ctx, index, op.path);
  const target = `${ctx.root}/${op.path}`;
  const current = await currentFacts(ctx.root, op.path);
  if (op.before === null) {
    if (current) await Deno.remove(target);
    return;
  }
  if (op.before.type === "dir") {
    if (current === null) await Deno.mkdir(target, { mode: 0o700 });
    else if (current.type !== "dir") throw new OpFailure("conflict", "now a file on the host");
    return await Deno.chmod(target, op.before.mode);
  }
  if (sameFacts(current, op.before)) return;
  const temp = tempPath(ctx.root, op.path, ctx.applyId, index);
  if (backup && "link" in backup) await Deno.symlink(backup.link, temp);
  else if (backup) await restoreFile(`${ctx.journalDir}/backups/${backup.file}`, temp);
  else throw new OpFailure("refused", "no backup of the previous content");
  await renameInto(ctx.root, op.path, temp);
}

async function restoreFile(backup: string, temp: string): Promise<void> {
  try {
    await Deno.link(backup, temp);
  } catch (error) {
    if ((error as { code?: string }).code !== "EXDEV") throw error;
    await copyPreserving(backup, temp);
  }
}

async function remove(target: string, before: BaselineEntry): Promise<void> {
  try {
    await Deno.remove(target);
  } catch (error) {
    if (before.type === "dir" && (error as { code?: string }).code === "ENOTEMPTY") {
      throw new OpFailure("skipped", "directory not empty: it holds files the changeset keeps");
    }
    throw error;
  }
  await syncDir(parentOf(target));
}

async function write(
  ctx: OpContext,
  index: number,
  op: Extract<ApplyOp, { kind: "write" }>,
): Promise<void> {
  const temp = tempPath(ctx.root, op.path, ctx.applyId, index);
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  try {
    // Zeros the guest left as holes stay holes on the host.
    const sparse = new SparseWriter(file);
    await copyVerified(`${ctx.blobs}/${op.sha256}`, (bytes) => sparse.write(bytes), op);
    await sparse.finish();
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(temp);
    if (error instanceof BlobMismatchError) throw new OpFailure("refused", error.message);
    throw error;
  }
  file.close();
  await Deno.chmod(temp, op.mode);
  await ctx.beforeRename?.(index);
  await commit(ctx, index, op, temp);
}

/** Rename `temp` onto the op's path after checking, once more, that the host did not move. */
async function commit(ctx: OpContext, index: number, op: ApplyOp, temp: string): Promise<void> {
  const current = await currentFacts(ctx.root, op.path).catch(async (error) => {
    await removeTemp(ctx, index, op.path).catch(() => {});
    throw error;
  });
  if (!sameFacts(current, op.before)) {
    await Deno.remove(temp);
    throw new OpFailure("conflict", `${describeChange(current, op.before)} during the apply`);
  }
  await renameInto(ctx.root, op.path, temp);
}

async function renameInto(root: string, path: string, temp: string): Promise<void> {
  await verifyParents(root, path);
  const target = `${root}/${path}`;
  await Deno.rename(temp, target);
  await syncDir(parentOf(target));
}

/** Whether the host already shows the result of `op` (it ran before a kill). */
async function isDone(ctx: OpContext, op: ApplyOp, current: BaselineEntry | null) {
  const target = `${ctx.root}/${op.path}`;
  switch (op.kind) {
    case "remove":
      return current === null;
    case "mkdir":
      return current?.type === "dir";
    case "chmod":
      return current?.type === "dir" && current.mode === op.mode;
    case "symlink":
      return current?.type === "symlink" && await Deno.readLink(target) === op.target;
    case "write":
      if (current?.type !== "file" || current.size !== op.size || current.mode !== op.mode) {
        return false;
      }
      return await copyVerified(target, () => Promise.resolve(), op).then(() => true, () => false);
  }
}

/** Facts of `path` now; parents re-verified. A missing parent or unsafe one is an OpFailure. */
async function currentFacts(root: string, path: string): Promise<BaselineEntry | null> {
  let parents: "present" | "missing";
  try {
    parents = await verifyParents(root, path);
  } catch (error) {
    if (error instanceof UnsafePathError) throw new OpFailure("refused", error.message);
    throw error;
  }
  if (parents === "missing") {
    throw new OpFailure("skipped", `parent directory of ${printable(path)} is missing`);
  }
  const info = await lstatIfExists(`${root}/${path}`);
  return info && baselineEntry(info);
}

/** Remove operation `index`'s temporary file if a killed run left it behind. */
async function removeTemp(ctx: OpContext, index: number, path: string): Promise<void> {
  if ((await verifyParents(ctx.root, path).catch(() => "missing")) === "missing") return;
  const temp = tempPath(ctx.root, path, ctx.applyId, index);
  const info = await lstatIfExists(temp);
  if (info && !info.isDirectory) await Deno.remove(temp);
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}
