/**
 * Planning an apply: from the validated records, the baseline and the host as it is now, decide
 * per path what happens (an operation, or a reason not to) without changing anything. The plan
 * is what `--dry-run` prints and what the journal records before the first write.
 *
 * @module
 */

import { baselineEntry } from "./baseline.ts";
import type { Baseline, BaselineEntry, UpperRecord } from "./changeset.ts";
import { printable } from "../terminal_text.ts";
import { blobProblem } from "./blob.ts";
import { describeChange, sameFacts } from "./host_facts.ts";
import { pathSelector } from "./path_glob.ts";
import { lstatUnder } from "./host_file.ts";
import { gitPathProblem, highRiskReason, resolvedSymlinkRisk, type TreeLookup } from "./risk.ts";
import {
  hostPathProblem,
  lstatIfExists,
  UnsafePathError,
  verifyParents,
  verifyRoot,
} from "./safe_path.ts";

/** One change to the host tree. `before` is what must be there when it runs (`null` = nothing). */
export type ApplyOp =
  | { kind: "remove"; path: string; before: BaselineEntry }
  | { kind: "mkdir"; path: string; before: null }
  | {
    kind: "write";
    path: string;
    sha256: string;
    size: number;
    mode: number;
    before: BaselineEntry | null;
  }
  | { kind: "symlink"; path: string; target: string; before: BaselineEntry | null }
  | { kind: "chmod"; path: string; mode: number; before: BaselineEntry };

/** How one path fared. Only `applied` and `unchanged` count as success. */
export type OutcomeResult = "applied" | "unchanged" | "skipped" | "conflict" | "refused";

/** The result for one path, with the reason when it was not applied. */
export interface PathOutcome {
  path: string;
  result: OutcomeResult;
  /** What was (or would be) done: `write`, `delete`, `symlink`, `mkdir`, `chmod`. */
  action?: string;
  reason?: string;
  /** Set when the path is high-risk (DESIGN rule 10), whether or not it was confirmed. */
  highRisk?: string;
  /** Something changed on the way, e.g. setuid bits stripped. */
  note?: string;
}

/** Inputs of {@linkcode planApply}. */
export interface PlanInput {
  /** The project directory (real, absolute path). */
  root: string;
  /** Validated records (see `validateRecords`). */
  records: readonly UpperRecord[];
  baseline: Baseline;
  /** The changeset's `blobs/` directory. */
  blobs: string;
  /** Globs restricting the paths applied (see path_glob.ts); empty = all. */
  paths?: readonly string[];
  /** Apply over conflicts. */
  force?: boolean;
  /** Create the guest's symlinks. */
  allowSymlinks?: boolean;
  /** Apply high-risk paths (the user confirmed). */
  allowHighRisk?: boolean;
  /**
   * Give files and directories the guest's permission bits as they are (special bits are still
   * stripped). Without it only the execute bit crosses, as with git (see {@linkcode appliedMode}).
   */
  exactModes?: boolean;
  /** The umask new files and directories get; default the process's (`Deno.umask()`). */
  umask?: number;
  /** Paths a previous apply of this changeset already applied. */
  alreadyApplied?: ReadonlySet<string>;
}

/** Operations in execution order, and one outcome per path considered. */
export interface Plan {
  ops: ApplyOp[];
  outcomes: PathOutcome[];
}

const SPECIAL_BITS = 0o7000;
const NEW_DIR: BaselineEntry = { type: "dir", mode: 0o700, size: 0, mtimeMs: 0, ino: 0 };

interface Ctx {
  input: PlanInput;
  byPath: Map<string, UpperRecord>;
  ops: ApplyOp[];
  outcomes: Map<string, PathOutcome>;
}

/**
 * Plan the apply of `input.records` onto `input.root`. Reads the host, changes nothing.
 *
 * @example
 * ```ts
 * import { planApply } from "./apply_plan.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const plan = await planApply({
 *   root, blobs: "/nonexistent", records: [{ path: "gone.txt", type: "deleted" }],
 *   baseline: { root, takenAt: 0, entries: {} },
 * });
 * console.assert(plan.outcomes[0].result === "unchanged");
 * ```
 */
export async function planApply(input: PlanInput): Promise<Plan> {
  await verifyRoot(input.root);
  const ctx: Ctx = {
    input,
    byPath: new Map(input.records.map((r) => [r.path, r])),
    ops: [],
    outcomes: new Map(),
  };
  for (const record of selectRecords(input.records, input.paths ?? [])) {
    if (!ctx.outcomes.has(record.path)) await planRecord(ctx, record);
  }
  holdEmptyDirectories(ctx);
  const outcomes = [...ctx.outcomes.values()].sort((a, b) => compare(a.path, b.path));
  return { ops: orderOps(ctx.ops), outcomes };
}

/**
 * A new directory is made for what goes in it: one with changes below it, none of which will be
 * applied (all held back, in conflict or refused), is held back too, so a held-back file leaves no
 * empty parents on the host. A directory the guest made empty is still made. Deepest first, so a
 * held-back child directory counts as not applied for its parent.
 */
function holdEmptyDirectories(ctx: Ctx): void {
  const outcomes = [...ctx.outcomes.values()];
  // Per directory: how many paths below it are considered, and how many will be applied.
  const below = new Map<string, number>();
  const appliedBelow = new Map<string, number>();
  for (const o of outcomes) {
    for (const dir of ancestors(o.path)) {
      below.set(dir, (below.get(dir) ?? 0) + 1);
      if (o.result === "applied") appliedBelow.set(dir, (appliedBelow.get(dir) ?? 0) + 1);
    }
  }
  const made = outcomes.filter((o) => o.action === "mkdir" && o.result === "applied")
    .sort((a, b) => b.path.length - a.path.length);
  const held = new Set<string>();
  for (const dir of made) {
    if (!below.get(dir.path) || appliedBelow.get(dir.path)) continue;
    dir.result = "skipped";
    dir.reason = "held back with everything below it";
    delete dir.note;
    held.add(dir.path);
    for (const parent of ancestors(dir.path)) {
      appliedBelow.set(parent, appliedBelow.get(parent)! - 1);
    }
  }
  if (held.size) ctx.ops = ctx.ops.filter((op) => !held.has(op.path));
}

/** The directories above `path`, innermost first (`a/b/c` → `a/b`, `a`). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    out.push(path.slice(0, i));
  }
  return out;
}

/** The records matching `globs`, plus the directory records their parents need. */
function selectRecords(records: readonly UpperRecord[], globs: readonly string[]) {
  const selected = pathSelector(globs);
  const chosen = new Set(records.filter((r) => selected(r.path)).map((r) => r.path));
  for (const path of [...chosen]) {
    const parts = path.split("/");
    for (let n = 1; n < parts.length; n++) chosen.add(parts.slice(0, n).join("/"));
  }
  return records.filter((r) => chosen.has(r.path));
}

async function planRecord(ctx: Ctx, r: UpperRecord): Promise<void> {
  const { input } = ctx;
  const set = (result: OutcomeResult, reason?: string, extra: Partial<PathOutcome> = {}) =>
    void ctx.outcomes.set(r.path, { path: r.path, result, reason, ...extra });
  if (r.type === "unsupported") return set("refused", `unsupported entry: ${r.detail}`);
  const git = gitPathProblem(r.path);
  if (git) return set("refused", git);
  const long = hostPathProblem(input.root, r.path, { forCreation: r.type !== "deleted" });
  if (long) return set("refused", long);
  const parent = nonDirAncestor(ctx.byPath, r.path);
  if (parent) return set("refused", `${printable(parent)} is not a directory in the changeset`);
  if (input.alreadyApplied?.has(r.path)) return set("unchanged", "already applied");
  if (r.type === "symlink" && !input.allowSymlinks) {
    return set("skipped", "symlinks are created only with --allow-symlinks");
  }
  const highRisk =
    (r.type === "symlink"
      ? await resolvedSymlinkRisk(r.path, r.target, plannedTree(input.root, ctx.byPath))
      : undefined) ?? highRiskReason(r.path);
  if (highRisk && !input.allowHighRisk) {
    return set("skipped", "high-risk change, needs confirmation", { highRisk });
  }
  if (r.type === "file") {
    const problem = await blobProblem(input.blobs, r);
    if (problem) return set("refused", problem);
  }
  let host: BaselineEntry | null;
  try {
    host = await hostFacts(input.root, r.path);
  } catch (error) {
    if (error instanceof UnsafePathError) return set("refused", error.message);
    throw error;
  }
  await planChange(ctx, r, host);
  if (highRisk) ctx.outcomes.get(r.path)!.highRisk = highRisk;
}

async function planChange(ctx: Ctx, r: UpperRecord, host: BaselineEntry | null): Promise<void> {
  const base = ctx.input.baseline.entries[r.path] ?? null;
  switch (r.type) {
    case "deleted":
      return await planDelete(ctx, r.path, host, base, true);
    case "dir":
      return planDir(ctx, r.path, r.mode, host, base);
    case "file": {
      const mode = appliedMode(ctx.input, "file", r.mode, host);
      const note = notes(stripNote(r.mode), modeNote(ctx.input, "file", r.mode, mode, host));
      const op = { kind: "write" as const, path: r.path, sha256: r.sha256, size: r.size, mode };
      return await planReplace(ctx, op, host, base, note);
    }
    case "symlink":
      return await planReplace(
        ctx,
        { kind: "symlink", path: r.path, target: r.target },
        host,
        base,
      );
  }
}

async function planDelete(
  ctx: Ctx,
  path: string,
  host: BaselineEntry | null,
  base: BaselineEntry | null,
  expand: boolean,
): Promise<void> {
  const set = (result: OutcomeResult, reason?: string, action?: string) =>
    void ctx.outcomes.set(path, { path, result, reason, action });
  if (host === null) return set("unchanged", "already absent on the host");
  if (!ctx.input.force && !sameFacts(host, base)) {
    return set("conflict", describeChange(host, base));
  }
  if (host.type === "other") return set("refused", "a device, fifo or socket on the host");
  if (host.type === "dir" && expand) await planSubtreeRemoval(ctx, path);
  ctx.ops.push({ kind: "remove", path, before: host });
  set("applied", undefined, "delete");
}

/** Delete what the baseline had below `dir` (the guest removed or replaced the directory). */
async function planSubtreeRemoval(ctx: Ctx, dir: string): Promise<void> {
  const prefix = `${dir}/`;
  const entries = ctx.input.baseline.entries;
  for (const child of Object.keys(entries).filter((p) => p.startsWith(prefix))) {
    if (ctx.byPath.has(child) || ctx.outcomes.has(child)) continue;
    const git = gitPathProblem(child);
    if (git) {
      ctx.outcomes.set(child, { path: child, result: "refused", reason: git });
      continue;
    }
    try {
      await planDelete(ctx, child, await hostFacts(ctx.input.root, child), entries[child], false);
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      ctx.outcomes.set(child, { path: child, result: "refused", reason: error.message });
    }
  }
}

function planDir(
  ctx: Ctx,
  path: string,
  recordMode: number,
  host: BaselineEntry | null,
  base: BaselineEntry | null,
): void {
  const mode = appliedMode(ctx.input, "dir", recordMode, host);
  const note = notes(stripNote(recordMode), modeNote(ctx.input, "dir", recordMode, mode, host));
  const set = (result: OutcomeResult, reason?: string, action?: string) =>
    void ctx.outcomes.set(path, { path, result, reason, action, note });
  if (host?.type === "dir") {
    const guestKeptMode = base?.type === "dir" && base.mode === (recordMode & 0o777);
    if (host.mode === mode || guestKeptMode) return set("unchanged", "directory already there");
    ctx.ops.push({ kind: "chmod", path, mode, before: host });
    return set("applied", undefined, "chmod");
  }
  if (!ctx.input.force && !sameFacts(host, base)) {
    return set("conflict", describeChange(host, base));
  }
  if (host?.type === "other") return set("refused", "a device, fifo or socket on the host");
  if (host) ctx.ops.push({ kind: "remove", path, before: host });
  ctx.ops.push({ kind: "mkdir", path, before: null });
  ctx.ops.push({ kind: "chmod", path, mode, before: NEW_DIR });
  set("applied", undefined, "mkdir");
}

type Replacement =
  | { kind: "write"; path: string; sha256: string; size: number; mode: number }
  | { kind: "symlink"; path: string; target: string };

async function planReplace(
  ctx: Ctx,
  op: Replacement,
  host: BaselineEntry | null,
  base: BaselineEntry | null,
  note?: string,
): Promise<void> {
  const set = (result: OutcomeResult, reason?: string) =>
    void ctx.outcomes.set(op.path, { path: op.path, result, reason, action: op.kind, note });
  if (!ctx.input.force && !sameFacts(host, base)) {
    return set("conflict", describeChange(host, base));
  }
  if (host?.type === "other") return set("refused", "a device, fifo or socket on the host");
  let before = host;
  if (host?.type === "dir") {
    await planSubtreeRemoval(ctx, op.path);
    ctx.ops.push({ kind: "remove", path: op.path, before: host });
    before = null;
  }
  ctx.ops.push({ ...op, before });
  set("applied");
}

/**
 * What is at `rel` under `root` now, or `null`; throws {@linkcode UnsafePathError} when a parent
 * is a symlink or not a directory.
 */
async function hostFacts(root: string, rel: string): Promise<BaselineEntry | null> {
  if ((await verifyParents(root, rel)) === "missing") return null;
  const info = await lstatIfExists(`${root}/${rel}`);
  return info && baselineEntry(info);
}

/**
 * The tree as it will be after the apply, for resolving symlinks: the changeset's entries (every
 * one, selected or not: a later apply may bring the rest), else the host's, read without
 * following any link.
 */
function plannedTree(root: string, byPath: Map<string, UpperRecord>): TreeLookup {
  return async (path) => {
    const r = byPath.get(path);
    if (r?.type === "symlink") return { type: "symlink", target: r.target };
    if (r?.type === "dir" || r?.type === "file") return { type: r.type };
    if (r?.type === "deleted") return undefined;
    const info = await lstatUnder(root, path);
    if (!info) return undefined;
    if (!info.isSymlink) return { type: info.isDirectory ? "dir" : info.isFile ? "file" : "other" };
    const target = await Deno.readLink(`${root}/${path}`).catch(() => undefined);
    return target === undefined ? { type: "other" } : { type: "symlink", target };
  };
}

function nonDirAncestor(byPath: Map<string, UpperRecord>, path: string): string | undefined {
  const parts = path.split("/");
  for (let n = 1; n < parts.length; n++) {
    const ancestor = parts.slice(0, n).join("/");
    const record = byPath.get(ancestor);
    if (record && record.type !== "dir") return ancestor;
  }
  return undefined;
}

function stripNote(mode: number): string | undefined {
  return mode & SPECIAL_BITS ? "setuid/setgid/sticky bits stripped" : undefined;
}

/**
 * The permission bits apply gives a file or directory the guest made with `guestMode`, where the
 * host has `host`. Like git, only the execute bit crosses by default: a file the host has keeps
 * its permissions (execute bits added where it is readable, or removed, when the guest changed
 * that); a new file gets 0666, or 0777 when the guest made it executable, less the umask; a
 * directory the host has keeps its mode, a new one gets 0777 less the umask. With `exactModes`
 * the guest's bits are used as they are. Special bits never cross.
 *
 * @example
 * ```ts
 * import { appliedMode } from "./apply_plan.ts";
 * console.assert(appliedMode({ umask: 0o022 }, "file", 0o777, null) === 0o755);
 * console.assert(appliedMode({ umask: 0o022 }, "dir", 0o777, null) === 0o755);
 * console.assert(appliedMode({ exactModes: true }, "file", 0o4777, null) === 0o777);
 * ```
 */
export function appliedMode(
  options: Pick<PlanInput, "exactModes" | "umask">,
  type: "file" | "dir",
  guestMode: number,
  host: BaselineEntry | null,
): number {
  const guest = guestMode & 0o777;
  if (options.exactModes) return guest;
  const umask = options.umask ?? Deno.umask();
  if (type === "dir") return host?.type === "dir" ? host.mode & 0o777 : 0o777 & ~umask;
  const exec = (guest & 0o111) !== 0;
  if (host?.type !== "file") return (exec ? 0o777 : 0o666) & ~umask;
  const current = host.mode & 0o777;
  if (exec === ((current & 0o111) !== 0)) return current;
  return exec ? current | (((current & 0o444) >> 2) & ~umask) : current & ~0o111;
}

/**
 * What the user should know about the mode: the change apply makes to an existing path, or the
 * guest's bits that it does not apply.
 */
function modeNote(
  input: PlanInput,
  type: "file" | "dir",
  guestMode: number,
  mode: number,
  host: BaselineEntry | null,
): string | undefined {
  const guest = guestMode & 0o777;
  if (host?.type === type && (host.mode & 0o777) !== mode) {
    return `mode ${octal(host.mode)} -> ${octal(mode)}`;
  }
  if (guest !== mode && !input.exactModes) {
    return `the guest's mode ${octal(guest)} not applied: --exact-modes applies it`;
  }
  return undefined;
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

function notes(...parts: (string | undefined)[]): string | undefined {
  const present = parts.filter((p) => p !== undefined);
  return present.length ? present.join("; ") : undefined;
}

const RANK = { remove: 0, mkdir: 1, write: 2, symlink: 2, chmod: 3 } as const;

/** Removals deepest first, then new directories, files and links top-down, then modes bottom-up. */
function orderOps(ops: ApplyOp[]): ApplyOp[] {
  return ops.sort((a, b) => {
    if (RANK[a.kind] !== RANK[b.kind]) return RANK[a.kind] - RANK[b.kind];
    const order = compare(a.path, b.path);
    return a.kind === "remove" || a.kind === "chmod" ? -order : order;
  });
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
