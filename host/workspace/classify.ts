/**
 * From upper-layer records to a reviewable diff: each record is compared with the baseline (and,
 * for content, with the host file when it is still the baseline's version) and becomes zero or
 * more {@linkcode DiffEntry}s. An overlay copy-up without a change (a file opened for writing and
 * left alone, a directory that holds a change) is not a change.
 *
 * @module
 */

import { baselineEntry, sameAsBaseline } from "./baseline.ts";
import {
  type Baseline,
  type BaselineEntry,
  ChangesetError,
  type UpperRecord,
} from "./changeset.ts";
import { hashUnder, lstatUnder, readUnder } from "./host_file.ts";

/** What happened to one path. */
export type DiffStatus =
  | "added"
  | "modified"
  | "deleted"
  | "type-changed"
  | "mode-changed"
  | "unsupported";

/** One side of a change. `mode` is permission bits; `target` is a symlink's target. */
export interface DiffSide {
  type: "file" | "dir" | "symlink" | "other";
  mode?: number;
  size?: number;
  /** SHA-256 of the new content (new side of files only). */
  sha256?: string;
  target?: string;
}

/** One reviewable change. This is also the element of `agentbox diff --json`'s `entries`. */
export interface DiffEntry {
  path: string;
  status: DiffStatus;
  /** The host side (absent for `added`). */
  old?: DiffSide;
  /** The guest side (absent for `deleted` and `unsupported`). */
  new?: DiffSide;
  /** A NUL byte in the first 8 KiB of either side's content. */
  binary: boolean;
  /** The host path no longer matches the baseline: it changed since the session started. */
  hostChanged: boolean;
  /** For entries implied by the deletion or replacement of an ancestor directory: that directory. */
  under?: string;
  /** Why an `unsupported` entry cannot be applied. */
  detail?: string;
  /**
   * A previous `agentbox apply` brought this change to the host (set by the core from the
   * session's completion record; classification leaves it out).
   */
  applied?: boolean;
}

/** Where the two sides' contents are, and which paths to leave out. */
export interface ClassifyOptions {
  /** The host directory (the baseline's root unless it moved). */
  root: string;
  /** The changeset's `blobs/` directory. */
  blobs: string;
  /** Paths to leave out (e.g. ignored by the host's `.gitignore` files). */
  ignore?: (path: string, isDir: boolean) => Promise<boolean>;
  /**
   * Paths an apply already brought to the host (the completion record). Their host side is the
   * guest's now, so they are classified against the baseline alone and marked `applied`: a
   * modified file stays `modified` (not "no change"), a deleted one `deleted` (not unreadable).
   */
  applied?: ReadonlySet<string>;
}

/** Bytes looked at to decide whether content is binary, as git does. */
export const BINARY_PROBE_BYTES = 8192;

/**
 * The diff of validated, path-sorted `records` against `baseline`, sorted by path. Throws
 * {@linkcode ChangesetError} when the records contradict each other or a blob is missing.
 *
 * @example
 * ```ts
 * import { classifyChanges } from "./classify.ts";
 * const baseline = { root: "/p", takenAt: 0, entries: {} };
 * const entries = await classifyChanges([{ path: "d", type: "dir", mode: 0o755 }], baseline, {
 *   root: "/p",
 *   blobs: "/state/sessions/x/workspace/changes/blobs",
 * });
 * console.assert(entries[0].status === "added");
 * ```
 */
export async function classifyChanges(
  records: UpperRecord[],
  baseline: Baseline,
  options: ClassifyOptions,
): Promise<DiffEntry[]> {
  const base = baselineLookup(baseline);
  checkParents(records, base);
  let sorted: string[] | undefined;
  // Sorting every baseline path costs ~100 ms on a 100k tree: only a deleted directory needs it.
  const context = { ...options, base, sortedPaths: () => sorted ??= base.paths().sort() };
  const out: DiffEntry[] = [];
  for (const record of records) {
    const entry = base.get(record.path);
    const isDir = record.type === "dir" || (record.type === "deleted" && entry?.type === "dir");
    if (await options.ignore?.(record.path, isDir)) continue;
    out.push(...await classifyRecord(context, record, entry));
    if (entry?.type === "dir" && record.type !== "dir") {
      out.push(...await deletedBelow(context, record.path));
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Baseline entries by path, without copying a 100k-entry object into a Map. */
interface BaselineLookup {
  get(path: string): BaselineEntry | undefined;
  paths(): string[];
}

function baselineLookup(baseline: Baseline): BaselineLookup {
  const entries = baseline.entries;
  return {
    get: (path) => (Object.hasOwn(entries, path) ? entries[path] : undefined),
    paths: () => Object.keys(entries),
  };
}

interface Context extends ClassifyOptions {
  base: BaselineLookup;
  sortedPaths: () => string[];
}

/**
 * Every record's parent must be a directory: in the records, else in the baseline. Unsupported
 * records are only shown, and their paths may be escaped forms, so they are not checked.
 */
function checkParents(records: UpperRecord[], base: BaselineLookup): void {
  const types = new Map(records.map((r) => [r.path, r.type]));
  for (const { path, type } of records) {
    const slash = path.lastIndexOf("/");
    if (slash < 0 || type === "unsupported") continue;
    const parent = path.slice(0, slash);
    const parentType = types.get(parent) ?? base.get(parent)?.type;
    if (parentType !== "dir") {
      throw new ChangesetError(`Changeset entry ${path} is inside ${parent}, not a directory`);
    }
  }
}

async function classifyRecord(
  context: Context,
  record: UpperRecord,
  entry: BaselineEntry | undefined,
): Promise<DiffEntry[]> {
  const { path } = record;
  if (record.type === "unsupported") {
    const host = entry && await hostSide(context, path, entry);
    const status = "unsupported";
    return [{
      path,
      status,
      old: host?.old,
      binary: false,
      hostChanged: false,
      detail: record.detail,
    }];
  }
  if (record.type === "deleted") return entry ? [await deletion(context, path, entry)] : [];
  const side = newSide(record);
  const binary = await blobIsBinary(context, record);
  if (!entry) {
    const added: DiffEntry = { path, status: "added", new: side, binary, hostChanged: false };
    return [context.applied?.has(path) ? { ...added, applied: true } : added];
  }
  if (context.applied?.has(path)) return appliedChange(record, entry, side, binary);
  const { old, hostChanged } = await hostSide(context, path, entry);
  if (record.type === "dir" && entry.type === "dir") {
    // Only a chmod in the guest makes a directory's mode differ: show it, apply may make it.
    if (samePermissions(record.mode, old.mode)) return [];
    return [{ path, status: "mode-changed", old, new: side, binary: false, hostChanged }];
  }
  const status = entry.type !== record.type ? "type-changed" : await compare(context, record, old);
  if (!status) return [];
  const oldBinary = await hostIsBinary(context, path, old);
  return [{ path, status, old, new: side, binary: binary || oldBinary, hostChanged }];
}

/** `modified`, `mode-changed`, or `undefined` for a copy-up without a change. */
async function compare(
  context: Context,
  record: UpperRecord,
  old: DiffSide,
): Promise<DiffStatus | undefined> {
  if (record.type === "symlink") return record.target === old.target ? undefined : "modified";
  if (record.type !== "file") return undefined;
  const sameContent = record.size === old.size &&
    record.sha256 === await hashUnder(context.root, record.path);
  if (!sameContent) return "modified";
  return samePermissions(record.mode, old.mode) ? undefined : "mode-changed";
}

/** Whether the guest's bits equal the host's (all of them: the diff shows every mode change). */
function samePermissions(mode: number, hostMode: number | undefined): boolean {
  return (mode & 0o7777) === ((hostMode ?? 0) & 0o7777);
}

/**
 * The mode bits a diff shows for a regular file, git-style: 100755 when any execute bit is set,
 * else 100644, plus setuid/setgid/sticky bits (which git ignores but a reviewer must see).
 *
 * @example
 * ```ts
 * import { gitMode } from "./classify.ts";
 * console.assert(gitMode(0o700) === 0o100755 && gitMode(0o4755) === 0o104755);
 * ```
 */
export function gitMode(mode: number): number {
  return ((mode & 0o111) ? 0o100755 : 0o100644) | (mode & 0o7000);
}

/** An applied change, from the baseline and the record alone (the host has the new side now). */
function appliedChange(
  record: Exclude<UpperRecord, { type: "deleted" | "unsupported" }>,
  entry: BaselineEntry,
  side: DiffSide,
  binary: boolean,
): DiffEntry[] {
  const old = baselineSide(entry);
  let status: DiffStatus = "modified";
  if (entry.type !== record.type) status = "type-changed";
  else if (record.type === "dir") {
    if (samePermissions(record.mode, old.mode)) return [];
    status = "mode-changed";
  }
  return [{ path: record.path, status, old, new: side, binary, hostChanged: false, applied: true }];
}

/** What the baseline recorded of a path, as a diff side. */
function baselineSide(entry: BaselineEntry): DiffSide {
  if (entry.type === "symlink") return { type: "symlink" };
  if (entry.type === "file") return { type: "file", mode: entry.mode, size: entry.size };
  return { type: entry.type, mode: entry.mode };
}

async function deletion(
  context: Context,
  path: string,
  entry: BaselineEntry,
  under?: string,
): Promise<DiffEntry> {
  if (context.applied?.has(path)) {
    const old = baselineSide(entry);
    const gone: DiffEntry = {
      path,
      status: "deleted",
      old,
      binary: false,
      hostChanged: false,
      applied: true,
    };
    return under ? { ...gone, under } : gone;
  }
  const { old, hostChanged } = await hostSide(context, path, entry);
  const binary = await hostIsBinary(context, path, old);
  const result: DiffEntry = { path, status: "deleted", old, binary, hostChanged };
  return under ? { ...result, under } : result;
}

/** Baseline entries strictly below `dir`, as deletions implied by its removal or replacement. */
async function deletedBelow(context: Context, dir: string): Promise<DiffEntry[]> {
  const prefix = `${dir}/`;
  const out: DiffEntry[] = [];
  const sortedPaths = context.sortedPaths();
  for (let i = lowerBound(sortedPaths, prefix); i < sortedPaths.length; i++) {
    const path = sortedPaths[i];
    if (!path.startsWith(prefix)) break;
    const entry = context.base.get(path)!;
    if (await context.ignore?.(path, entry.type === "dir")) continue;
    out.push(await deletion(context, path, entry, dir));
  }
  return out;
}

function lowerBound(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function newSide(record: UpperRecord): DiffSide {
  switch (record.type) {
    case "file":
      return { type: "file", mode: record.mode, size: record.size, sha256: record.sha256 };
    case "dir":
      return { type: "dir", mode: record.mode };
    case "symlink":
      return { type: "symlink", target: record.target };
    default:
      throw new Error(`no new side for ${record.type}`);
  }
}

/**
 * The host side of `path` as it is now when it is still of the baseline's type (what apply would
 * change), else as the baseline recorded it; and whether it changed since the session started.
 */
async function hostSide(
  context: Context,
  path: string,
  entry: BaselineEntry,
): Promise<{ old: DiffSide; hostChanged: boolean }> {
  const info = await lstatUnder(context.root, path);
  const hostChanged = info === undefined || !sameAsBaseline(entry, info);
  const now = info && baselineEntry(info);
  const facts = now?.type === entry.type ? now : entry;
  if (facts.type === "symlink") {
    const target = now?.type === "symlink"
      ? await Deno.readLink(`${context.root}/${path}`).catch(() => undefined)
      : undefined;
    return {
      old: target === undefined ? { type: "symlink" } : { type: "symlink", target },
      hostChanged,
    };
  }
  const old: DiffSide = facts.type === "file"
    ? { type: "file", mode: facts.mode, size: facts.size }
    : { type: facts.type, mode: facts.mode };
  return { old, hostChanged };
}

async function hostIsBinary(context: Context, path: string, old: DiffSide): Promise<boolean> {
  if (old.type !== "file") return false;
  const head = await readUnder(context.root, path, BINARY_PROBE_BYTES);
  return head !== undefined && head.includes(0);
}

async function blobIsBinary(context: Context, record: UpperRecord): Promise<boolean> {
  if (record.type !== "file") return false;
  const info = await lstatUnder(context.blobs, record.sha256);
  if (!info?.isFile || info.size !== record.size) {
    throw new ChangesetError(`Changeset has no content of the right size for ${record.path}`);
  }
  const head = await readUnder(context.blobs, record.sha256, BINARY_PROBE_BYTES);
  return head !== undefined && head.includes(0);
}
