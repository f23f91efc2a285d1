/**
 * The baseline: the shared host directory as it was when a session started, recorded with
 * `lstat` (symlinks are never followed). `agentbox diff` uses it to tell a real change from an
 * overlay copy-up and to notice host files that changed since; apply uses it to detect conflicts.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";
import type { ShareExclude } from "./share_exclude.ts";
import {
  type Baseline,
  type BaselineEntry,
  ChangesetError,
  nameProblem,
  pathBytesProblem,
  pathProblem,
} from "./changeset.ts";

/** Options of {@linkcode takeBaseline}. */
export interface BaselineOptions {
  /** Leave these paths (and what is under an excluded directory) out: `share.exclude`. */
  exclude?: ShareExclude;
  /** Called with each top-most excluded path. */
  onExcluded?: (path: string) => void;
  /** Called now and then during a long walk with the number of entries recorded so far. */
  onWalked?: (entries: number) => void;
}

/** Entries recorded between two yields to the event loop. */
const BATCH = 10_000;

/**
 * What `find` prints per entry: type, permission bits (octal), size, mtime (seconds with a
 * fraction), inode, then the path relative to the root; NUL-terminated (a name may hold any byte
 * but NUL and `/`).
 */
const FIND_FORMAT = "%y %m %s %T@ %i %P\\0";

/**
 * Walk `dir` (never following symlinks) and record every entry. Names that cannot be a
 * workspace path (control characters, invalid UTF-8) are left out, and so is what is under them.
 * The walk is GNU `find` (one process statting in C is ~3x faster than a statting loop here),
 * read as a stream: the event loop keeps turning every {@linkcode BATCH} entries, so that a proxy
 * in the same process keeps serving. `find` does not descend into directories that exclude
 * patterns name plainly (`node_modules/`, see {@linkcode ShareExclude.pruneNames}); every other
 * exclusion is decided here.
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
  // Directories whose subtree is left out (a bad name, excluded).
  const skipped = new Set<string>();
  let recorded = 0;
  const record = (line: string) => {
    const [type, mode, size, mtime, ino] = line.split(" ", 5);
    const path = line.slice(
      type.length + mode.length + size.length + mtime.length + ino.length + 5,
    );
    const isDir = type === "d";
    const slash = path.lastIndexOf("/");
    // find lists a directory before what is in it: its path was checked, only the name is new.
    if (
      (slash >= 0 && skipped.has(path.slice(0, slash))) ||
      nameProblem(path.slice(slash + 1)) !== undefined || pathBytesProblem(path) !== undefined
    ) {
      if (isDir) skipped.add(path);
      return;
    }
    if (options.exclude?.excludes(path, isDir)) {
      options.onExcluded?.(path);
      if (isDir) skipped.add(path);
      return;
    }
    entries[path] = {
      type: isDir ? "dir" : type === "f" ? "file" : type === "l" ? "symlink" : "other",
      mode: parseInt(mode, 8),
      size: Number(size),
      mtimeMs: mtimeMs(mtime),
      ino: Number(ino),
    };
    if (++recorded % BATCH === 0) options.onWalked?.(recorded);
  };
  const prune = (options.exclude?.pruneNames ?? []).flatMap((name, i) =>
    i === 0 ? ["-name", name] : ["-o", "-name", name]
  );
  const args = prune.length > 0
    ? ["(", "-type", "d", "(", ...prune, ")", "-printf", FIND_FORMAT, "-prune", ")", "-o"]
    : [];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("find", {
      args: [root, "-mindepth", "1", ...args, "-printf", FIND_FORMAT],
      env: helperEnv(),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw walkError(`Cannot read ${root}: cannot run find (install findutils)`, cause);
  }
  const errors = new Response(child.stderr).text();
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of child.stdout) {
    const lines = (rest + decoder.decode(chunk, { stream: true })).split("\0");
    rest = lines.pop()!;
    for (const line of lines) record(line);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const status = await child.status;
  if (!status.success || rest !== "") {
    const why = (await errors).trim().split("\n").slice(-3).join("; ");
    throw walkError(`Cannot read ${root}: ${why || `find exited ${status.code}`}`);
  }
  return { root, takenAt, entries };
}

/** `lstat`'s mtime in whole milliseconds as Deno reports it (0 before 1970, where it has none). */
function mtimeMs(seconds: string): number {
  if (seconds.startsWith("-")) return 0;
  const [whole, fraction = ""] = seconds.split(".");
  return Number(whole) * 1000 + Number(fraction.slice(0, 3).padEnd(3, "0"));
}

function walkError(message: string, cause?: unknown): AgentboxError {
  return new AgentboxError(message, { kind: "unavailable", code: "share_failed", cause });
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
 * The text of `baseline.json`: `root` first ({@linkcode baselineRoot} reads only that far), then
 * `takenAt` and the entries, given as `entriesJson` when the caller has serialised them already.
 *
 * @example
 * ```ts
 * import { baselineJson } from "./baseline.ts";
 * console.log(baselineJson({ root: "/p", takenAt: 0, entries: {} }));
 * ```
 */
export function baselineJson(
  baseline: Baseline,
  entriesJson: string = JSON.stringify(baseline.entries),
): string {
  return `{"root":${JSON.stringify(baseline.root)},"takenAt":${baseline.takenAt},` +
    `"entries":${entriesJson}}`;
}

/**
 * Write `baseline` (or its `text`, from {@linkcode baselineJson}) to `path` atomically (a
 * temporary file renamed into place), mode 0600.
 *
 * @example
 * ```ts
 * import { takeBaseline, writeBaseline } from "./baseline.ts";
 * await writeBaseline("/tmp/baseline.json", await takeBaseline("."));
 * ```
 */
export async function writeBaseline(
  path: string,
  baseline: Baseline,
  text: string = baselineJson(baseline),
): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o600, createNew: true });
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
