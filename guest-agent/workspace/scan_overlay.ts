/**
 * The guest side of `agentbox diff`: walk an overlayfs upper layer and report what the guest
 * changed, with cost proportional to the change (the upper layer), never to the size of the
 * project.
 *
 * Deletions are whiteouts (character devices 0:0) and, under an opaque directory (attribute
 * `trusted.overlay.opaque`, read through FFI: opaque_dir.ts), every lower child the merged view no
 * longer shows. Where the attribute cannot be read, every directory present in both layers is
 * compared with the merged view instead — correct, but it lists whole lower directories.
 *
 * @module
 */

import { isOpaqueDir } from "./opaque_dir.ts";

/**
 * One entry of the upper layer, as the guest reports it: `UpperRecord` in
 * `host/workspace/changeset.ts` (the contract; the guest may not import host code), except that
 * a file has no `sha256` — the host hashes the content it receives, at native speed, instead of
 * trusting a hash computed under emulation.
 */
export type UpperRecord =
  | { path: string; type: "file"; mode: number; size: number } & Ownership
  | { path: string; type: "dir"; mode: number } & Ownership
  | { path: string; type: "symlink"; target: string } & Ownership
  | { path: string; type: "deleted" }
  | { path: string; type: "unsupported"; detail: string };

/** Owner and group ids, reported when a scan asks for them (the system scan). */
export type Ownership = { uid?: number; gid?: number };

/** Options of {@linkcode scanOverlay}. */
export interface ScanOptions {
  /** Paths (relative) left out with everything under them; their deletions are left out too. */
  skip?: (path: string) => boolean;
  /** Report each entry's owner and group (`uid`, `gid`). */
  owners?: boolean;
}

/** A scanned record; for files, `contentPath` is where to read the content that was hashed. */
export interface ScanEntry {
  record: UpperRecord;
  /** Absolute path in the merged view (correct even when the upper file is a metacopy). */
  contentPath?: string;
}

/** The three directories of one overlay mount, as absolute paths. */
export interface OverlayDirs {
  upper: string;
  lower: string;
  merged: string;
}

/**
 * The overlayfs options the scan relies on: without `redirect_dir=off` a renamed directory keeps
 * its unchanged content in the lower layer under its old name, and without `metacopy=off` a
 * chmod copies up metadata only; either would hide content from a scan of the upper layer.
 *
 * @example
 * ```ts
 * import { overlayMountOptions } from "./scan_overlay.ts";
 * const data = overlayMountOptions({ lower: "/l", upper: "/u", work: "/w" });
 * // mount -t overlay overlay -o <data> /workspace
 * ```
 */
export function overlayMountOptions(dirs: { lower: string; upper: string; work: string }): string {
  return `lowerdir=${dirs.lower},upperdir=${dirs.upper},workdir=${dirs.work},` +
    "redirect_dir=off,metacopy=off";
}

const S_IFMT = 0o170000;
const FILE_TYPES: Record<number, string> = {
  0o010000: "fifo",
  0o020000: "character device",
  0o060000: "block device",
  0o140000: "socket",
};

/**
 * Walk the overlay's upper layer and yield one entry per change, parents before children.
 *
 * @example
 * ```ts
 * import { scanOverlay } from "./scan_overlay.ts";
 * const dirs = { upper: "/run/ws/upper", lower: "/run/ws/lower", merged: "/workspace" };
 * for await (const { record } of scanOverlay(dirs)) console.log(record.type, record.path);
 * ```
 */
export async function* scanOverlay(
  dirs: OverlayDirs,
  options: ScanOptions = {},
): AsyncGenerator<ScanEntry> {
  // An explicit stack: a guest can make directories deeper than the JS call stack.
  const stack: string[] = [""];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const children: string[] = [];
    for await (const entry of scanDir(dirs, dir, options)) {
      yield entry;
      if (entry.record.type === "dir") children.push(entry.record.path);
    }
    // One by one: spreading a directory of 200,000 subdirectories overflows the call stack.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}

/**
 * The longest path, in bytes, the host accepts in a changeset (`CHANGESET_LIMITS.maxPathBytes`
 * in host/workspace/changeset.ts) and the longest the guest's kernel takes in one call
 * (`PATH_MAX` less its NUL). An entry beyond either is reported as `unsupported`, never read or
 * descended into: the rest of the scan goes on.
 */
export const MAX_PATH_BYTES = 4096;
const KERNEL_PATH_BYTES = 4095;

const encoder = new TextEncoder();

/** Why `path` (workspace-relative) cannot be collected, or `undefined`. */
function lengthProblem(dirs: OverlayDirs, path: string): string | undefined {
  const bytes = encoder.encode(path).length;
  if (bytes > MAX_PATH_BYTES) {
    return `path is ${bytes} bytes, over the ${MAX_PATH_BYTES}-byte limit: not collected`;
  }
  const prefix = Math.max(dirs.upper.length, dirs.merged.length, dirs.lower.length) + 1;
  if (bytes + prefix > KERNEL_PATH_BYTES) {
    return `path is ${bytes} bytes, too long to read in the guest ` +
      `(${KERNEL_PATH_BYTES - prefix} at most): not collected`;
  }
  return undefined;
}

/** The entries of one upper directory `dir` (workspace-relative, "" for the root). */
async function* scanDir(
  dirs: OverlayDirs,
  dir: string,
  options: ScanOptions,
): AsyncGenerator<ScanEntry> {
  const names = await sortedNames(join(dirs.upper, dir));
  const deleted = new Set<string>();
  for (const name of names) {
    const path = dir === "" ? name : `${dir}/${name}`;
    if (options.skip?.(path)) continue;
    const entry = scanEntry(dirs, path, name);
    if (entry === undefined) continue;
    if (entry.record.type === "deleted") deleted.add(name);
    if (options.owners) addOwner(entry.record, join(dirs.upper, path));
    yield entry;
  }
  const opaque = isOpaqueDir(join(dirs.upper, dir));
  for (const name of opaque === false ? [] : await deletedFromLower(dirs, dir)) {
    const path = dir === "" ? name : `${dir}/${name}`;
    if (!deleted.has(name) && !options.skip?.(path)) yield { record: { path, type: "deleted" } };
  }
}

/** Set `record`'s `uid` and `gid` from `path` (not followed) when it is a file, dir or link. */
export function addOwner(record: UpperRecord, path: string): void {
  if (record.type !== "file" && record.type !== "dir" && record.type !== "symlink") return;
  const info = Deno.lstatSync(path);
  record.uid = info.uid ?? undefined;
  record.gid = info.gid ?? undefined;
}

/**
 * One upper entry. Synchronous calls: under emulation each async file system call costs about a
 * millisecond of event-loop overhead, which dominated a scan of thousands of small files.
 */
function scanEntry(dirs: OverlayDirs, path: string, name: string): ScanEntry | undefined {
  if (name.includes("\ufffd")) {
    return { record: { path, type: "unsupported", detail: "name is not valid UTF-8" } };
  }
  const tooLong = lengthProblem(dirs, path);
  if (tooLong) return { record: { path, type: "unsupported", detail: tooLong } };
  const upperPath = join(dirs.upper, path);
  const info = Deno.lstatSync(upperPath);
  if (info.isFile) return scanFile(dirs, path, info);
  if (info.isDirectory) return { record: { path, type: "dir", mode: (info.mode ?? 0) & 0o7777 } };
  if (info.isSymlink) return scanSymlink(upperPath, path);
  if (info.isCharDevice && info.rdev === 0) {
    // A whiteout. One over a name the lower layer never had hides nothing: not a change.
    return existsSync(join(dirs.lower, path)) ? { record: { path, type: "deleted" } } : undefined;
  }
  const kind = FILE_TYPES[(info.mode ?? 0) & S_IFMT] ?? "unknown file type";
  return { record: { path, type: "unsupported", detail: kind } };
}

/** With `metacopy=off` the upper file holds the whole content, so its size is the file's. */
function scanFile(dirs: OverlayDirs, path: string, info: Deno.FileInfo): ScanEntry {
  const mode = (info.mode ?? 0) & 0o7777;
  return {
    record: { path, type: "file", mode, size: info.size },
    contentPath: join(dirs.merged, path),
  };
}

function scanSymlink(upperPath: string, path: string): ScanEntry {
  const target = Deno.readLinkSync(upperPath);
  if (target.includes("\ufffd")) {
    return { record: { path, type: "unsupported", detail: "symlink target is not valid UTF-8" } };
  }
  return { record: { path, type: "symlink", target } };
}

/** Names in lower `dir` that the merged view no longer shows; none when `dir` is new. */
async function deletedFromLower(dirs: OverlayDirs, dir: string): Promise<string[]> {
  const lower = join(dirs.lower, dir);
  const info = await Deno.lstat(lower).catch(() => undefined);
  if (!info?.isDirectory) return [];
  const merged = new Set(await sortedNames(join(dirs.merged, dir)));
  return (await sortedNames(lower)).filter((name) => !merged.has(name));
}

async function sortedNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function join(base: string, path: string): string {
  return path === "" ? base : `${base}/${path}`;
}
