/**
 * The baseline: the shared host directory as it was when a session started, recorded with
 * `lstat` (symlinks are never followed). `agentbox diff` uses it to tell a real change from an
 * overlay copy-up and to notice host files that changed since; apply uses it to detect conflicts.
 *
 * @module
 */

import type { ShareExclude } from "./share_exclude.ts";
import { type Baseline, type BaselineEntry, ChangesetError, pathProblem } from "./changeset.ts";

/** Options of {@linkcode takeBaseline}. */
export interface BaselineOptions {
  /** Leave these paths (and what is under an excluded directory) out: `share.exclude`. */
  exclude?: ShareExclude;
  /** Called with each top-most excluded path. */
  onExcluded?: (path: string) => void;
  /** Called now and then during a long walk with the number of entries recorded so far. */
  onWalked?: (entries: number) => void;
}

/** Entries statted between two yields to the event loop (the walk itself is synchronous). */
const BATCH = 10_000;

/**
 * Walk `dir` (never following symlinks) and record every entry. Names that cannot be a
 * workspace path (control characters, invalid UTF-8) are left out, and so is what is under them.
 * Synchronous system calls are ~3x faster here than promises; the walk yields to the event loop
 * every {@linkcode BATCH} entries so that a proxy in the same process keeps serving.
 *
 * @example
 * ```ts
 * import { takeBaseline } from "./baseline.ts";
 * const baseline = await takeBaseline("/home/me/project");
 * console.log(Object.keys(baseline.entries).length);
 * ```
 */
export async function takeBaseline(
  dir: string,
  options: BaselineOptions = {},
): Promise<Baseline> {
  const root = await Deno.realPath(dir);
  const takenAt = Date.now();
  const entries: Record<string, BaselineEntry> = Object.create(null);
  const pending: string[] = [""];
  let sinceYield = 0;
  let recorded = 0;
  while (pending.length > 0) {
    const rel = pending.pop()!;
    for (const { name } of Deno.readDirSync(rel === "" ? root : `${root}/${rel}`)) {
      const path = rel === "" ? name : `${rel}/${name}`;
      if (pathProblem(path) !== undefined) continue;
      const info = Deno.lstatSync(`${root}/${path}`);
      if (options.exclude?.excludes(path, info.isDirectory)) {
        options.onExcluded?.(path);
        continue;
      }
      entries[path] = baselineEntry(info);
      recorded++;
      if (info.isDirectory) pending.push(path);
      if (++sinceYield === BATCH) {
        sinceYield = 0;
        options.onWalked?.(recorded);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
  }
  return { root, takenAt, entries };
}

/**
 * The baseline facts of one `lstat` result.
 *
 * @example
 * ```ts
 * import { baselineEntry } from "./baseline.ts";
 * console.log(baselineEntry(Deno.lstatSync("/etc/hostname")).type); // "file"
 * ```
 */
export function baselineEntry(info: Deno.FileInfo): BaselineEntry {
  const type = info.isFile
    ? "file"
    : info.isDirectory
    ? "dir"
    : info.isSymlink
    ? "symlink"
    : "other";
  return {
    type,
    mode: (info.mode ?? 0) & 0o7777,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? 0,
    ino: info.ino ?? 0,
  };
}

/**
 * Whether a host file's current `lstat` still matches its baseline entry (type, mode, size,
 * mtime, inode): if so, its content is taken to be the one the session started from.
 *
 * @example
 * ```ts
 * import { baselineEntry, sameAsBaseline } from "./baseline.ts";
 * const info = Deno.lstatSync("/etc/hostname");
 * console.assert(sameAsBaseline(baselineEntry(info), info));
 * ```
 */
export function sameAsBaseline(entry: BaselineEntry, info: Deno.FileInfo): boolean {
  const now = baselineEntry(info);
  return now.type === entry.type && now.mode === entry.mode && now.size === entry.size &&
    now.mtimeMs === entry.mtimeMs && now.ino === entry.ino;
}

/**
 * Write `baseline` to `path` atomically (a temporary file renamed into place), mode 0600.
 *
 * @example
 * ```ts
 * import { takeBaseline, writeBaseline } from "./baseline.ts";
 * await writeBaseline("/tmp/baseline.json", await takeBaseline("."));
 * ```
 */
export async function writeBaseline(path: string, baseline: Baseline): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, JSON.stringify(baseline), { mode: 0o600, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Bytes of `baseline.json` {@linkcode baselineRoot} reads: a root path and its JSON escapes. */
const ROOT_PREFIX_BYTES = 64 * 1024;

/**
 * The `root` of the baseline at `path` without reading the whole file (it holds one entry per
 * host path: megabytes for a large tree), or `undefined` when it cannot be read. Relies on
 * {@linkcode writeBaseline} writing `root` first.
 *
 * @example
 * ```ts
 * import { baselineRoot } from "./baseline.ts";
 * console.log(await baselineRoot("/state/sessions/abc/workspace/baseline.json")); // e.g. "/p"
 * ```
 */
export async function baselineRoot(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return undefined;
  }
  try {
    const buffer = new Uint8Array(ROOT_PREFIX_BYTES);
    let filled = 0;
    while (filled < buffer.length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    const head = new TextDecoder().decode(buffer.subarray(0, filled));
    const match = /^\{"root":("(?:[^"\\]|\\.)*")/.exec(head);
    const root = match ? JSON.parse(match[1]) : undefined;
    return typeof root === "string" ? root : undefined;
  } finally {
    file.close();
  }
}

/**
 * Read and validate a baseline written by {@linkcode writeBaseline}. Throws
 * {@linkcode ChangesetError} when it is missing or malformed.
 *
 * @example
 * ```ts
 * import { readBaseline } from "./baseline.ts";
 * const baseline = await readBaseline("/tmp/baseline.json");
 * console.log(baseline.root);
 * ```
 */
export async function readBaseline(path: string): Promise<Baseline> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (cause) {
    throw new ChangesetError(`Cannot read the baseline ${path}`, { cause });
  }
  const bad = (what: string) => new ChangesetError(`Baseline ${path} is corrupt: ${what}`);
  const b = raw as Record<string, unknown>;
  if (typeof b !== "object" || b === null) throw bad("not an object");
  if (typeof b.root !== "string" || !b.root.startsWith("/")) throw bad("bad root");
  if (typeof b.takenAt !== "number") throw bad("bad takenAt");
  if (typeof b.entries !== "object" || b.entries === null) throw bad("no entries");
  const entries: Record<string, BaselineEntry> = Object.create(null);
  for (const [key, value] of Object.entries(b.entries)) {
    if (pathProblem(key) !== undefined || !isEntry(value)) {
      throw bad(`bad entry ${JSON.stringify(key).slice(0, 80)}`);
    }
    entries[key] = value;
  }
  return { root: b.root, takenAt: b.takenAt, entries };
}

function isEntry(value: unknown): value is BaselineEntry {
  const e = value as Record<string, unknown>;
  return typeof e === "object" && e !== null &&
    ["file", "dir", "symlink", "other"].includes(e.type as string) &&
    Number.isInteger(e.mode) && Number.isSafeInteger(e.size) &&
    typeof e.mtimeMs === "number" && typeof e.ino === "number";
}
