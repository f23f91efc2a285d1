/**
 * The baseline: the shared host directory as it was when a session started, recorded with
 * `lstat` (symlinks are never followed). `agentbox diff` uses it to tell a real change from an
 * overlay copy-up and to notice host files that changed since; apply uses it to detect conflicts.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { helperEnv } from "../helper_env.ts";
import { createHash } from "node:crypto";
import type { ShareExclude } from "./share_exclude.ts";
import {
  BASELINE_MAGIC,
  type BaselineRecords,
  baselineText,
  formatRecord,
  parseBaselineText,
  RECORD_FORMAT,
  recordEntry,
  recordPathStart,
  type TreeRecords,
} from "./baseline_records.ts";
import {
  type Baseline,
  type BaselineEntry,
  CHANGESET_LIMITS,
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

/** Characters {@linkcode nameProblem} refuses in a name (but NUL, which ends find's records). */
// deno-lint-ignore no-control-regex
const NOT_IN_NAMES = /[\u0001-\u001f\u007f\ufffd]/;

/** Names at least this long are checked for their length in bytes. */
const LONG_NAME = Math.floor(CHANGESET_LIMITS.maxNameBytes / 3);

/** A walk of a tree: its records, and a digest of everything `find` printed. */
export interface TreeWalk {
  /** Absolute, real path of the tree. */
  root: string;
  takenAt: number;
  /** What is shared, by path: excluded paths and names that cannot be a workspace path are not. */
  records: TreeRecords;
  /**
   * SHA-256 (hex) of `find`'s output as it came, before anything was left out: two walks with the
   * same digest (and the same exclude patterns) have the same records.
   */
  digest: string;
}

/**
 * Walk `dir` (never following symlinks) and record every entry. Names that cannot be a
 * workspace path (control characters, invalid UTF-8) are left out, and so is what is under them.
 * The walk is GNU `find` (one process statting in C is ~3x faster than a statting loop here),
 * read as a stream: the event loop keeps turning every {@linkcode BATCH} entries, so that a proxy
 * in the same process keeps serving. `find` does not descend into directories that exclude
 * patterns name plainly (`node_modules/`, see {@linkcode ShareExclude.pruneNames}); every other
 * exclusion is decided here. Nothing of a record is parsed but its path (baseline_records.ts).
 *
 * @example
 * ```ts
 * import { walkTree } from "./baseline.ts";
 * const walk = await walkTree("/home/me/project");
 * console.log(walk.records.size, walk.digest);
 * ```
 */
export async function walkTree(dir: string, options: BaselineOptions = {}): Promise<TreeWalk> {
  const root = await Deno.realPath(dir);
  const takenAt = Date.now();
  const records: TreeRecords = new Map();
  const exclude = options.exclude;
  // Directories whose subtree is left out (a bad name, excluded).
  const skipped = new Set<string>();
  let nextBatch = BATCH;
  // `plain`: the chunk the line came from holds no character a name must not (checked once per
  // chunk), so only a long name need be checked here.
  const record = (line: string, plain: boolean) => {
    const at = recordPathStart(line);
    const path = line.slice(at);
    const isDir = line.charCodeAt(0) === 100 && line.charCodeAt(1) === 32; // "d "
    const slash = path.lastIndexOf("/");
    // find lists a directory before what is in it: its path was checked, only the name is new.
    if (
      at <= 0 || at === line.length ||
      (skipped.size > 0 && slash >= 0 && skipped.has(path.slice(0, slash))) ||
      ((!plain || path.length - slash > LONG_NAME) && nameProblem(path.slice(slash + 1))) ||
      pathBytesProblem(path) !== undefined
    ) {
      if (isDir) skipped.add(path);
      return;
    }
    if (exclude?.excludes(path, isDir)) {
      options.onExcluded?.(path);
      if (isDir) skipped.add(path);
      return;
    }
    records.set(path, line);
  };
  const prune = (exclude?.pruneNames ?? []).flatMap((name, i) =>
    i === 0 ? ["-name", name] : ["-o", "-name", name]
  );
  const args = prune.length > 0
    ? ["(", "-type", "d", "(", ...prune, ")", "-printf", RECORD_FORMAT, "-prune", ")", "-o"]
    : [];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("find", {
      args: [root, "-mindepth", "1", ...args, "-printf", RECORD_FORMAT],
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
  const hash = createHash("sha256");
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of child.stdout) {
    hash.update(chunk);
    const text = rest + decoder.decode(chunk, { stream: true });
    const plain = !NOT_IN_NAMES.test(text);
    const lines = text.split("\0");
    rest = lines.pop()!;
    for (const line of lines) record(line, plain);
    if (records.size >= nextBatch) {
      nextBatch = records.size + BATCH;
      options.onWalked?.(records.size);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  const status = await child.status;
  if (!status.success || rest !== "") {
    const why = (await errors).trim().split("\n").slice(-3).join("; ");
    throw walkError(`Cannot read ${root}: ${why || `find exited ${status.code}`}`);
  }
  return { root, takenAt, records, digest: hash.digest("hex") };
}

/**
 * Walk `dir` as {@linkcode walkTree} does, into a {@linkcode Baseline} of parsed entries.
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
  return walkBaseline(await walkTree(dir, options));
}

/**
 * The {@linkcode Baseline} of a walk: its records parsed (their paths were checked by the walk).
 *
 * @example
 * ```ts
 * import { walkBaseline, walkTree } from "./baseline.ts";
 * const baseline = walkBaseline(await walkTree("/home/me/project"));
 * ```
 */
export function walkBaseline(walk: TreeWalk): Baseline {
  const entries: Record<string, BaselineEntry> = Object.create(null);
  for (const [path, record] of walk.records) {
    const entry = recordEntry(record);
    if (entry === undefined) throw walkError(`Cannot read ${walk.root}: find printed ${record}`);
    entries[path] = entry;
  }
  return { root: walk.root, takenAt: walk.takenAt, entries };
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
 * Write the baseline file (format 2, baseline_records.ts) of `baseline` to `path` atomically (a
 * temporary file renamed into place), mode 0600.
 *
 * @example
 * ```ts
 * import { takeBaseline, writeBaseline } from "./baseline.ts";
 * await writeBaseline("/tmp/baseline.json", await takeBaseline("."));
 * ```
 */
export function writeBaseline(path: string, baseline: Baseline): Promise<void> {
  const records: TreeRecords = new Map();
  for (const [key, entry] of Object.entries(baseline.entries)) {
    records.set(key, formatRecord(key, entry));
  }
  return writeTextAtomically(path, baselineText(baseline.root, baseline.takenAt, records));
}

/**
 * Write the baseline file of `walk` to `path` as {@linkcode writeBaseline} does, its records as
 * `find` printed them.
 *
 * @example
 * ```ts
 * import { walkTree, writeWalk } from "./baseline.ts";
 * await writeWalk("/tmp/baseline.json", await walkTree("."));
 * ```
 */
export function writeWalk(path: string, walk: TreeWalk): Promise<void> {
  return writeTextAtomically(path, baselineText(walk.root, walk.takenAt, walk.records));
}

async function writeTextAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o600, createNew: true });
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/** Bytes of a baseline file {@linkcode baselineRoot} reads: a root path and its JSON escapes. */
const ROOT_PREFIX_BYTES = 64 * 1024;

/**
 * The `root` of the baseline at `path` without reading the whole file (it holds one entry per
 * host path: megabytes for a large tree), or `undefined` when it cannot be read. Both formats
 * give `root` first.
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
    let head = new TextDecoder().decode(buffer.subarray(0, filled));
    if (head.startsWith(BASELINE_MAGIC)) head = head.slice(BASELINE_MAGIC.length);
    const match = /^\{"root":("(?:[^"\\]|\\.)*")/.exec(head);
    const root = match ? JSON.parse(match[1]) : undefined;
    return typeof root === "string" ? root : undefined;
  } finally {
    file.close();
  }
}

/**
 * The records of the baseline file at `path` without checking each (agentbox's own cache, where
 * that would cost as much as the rest of a delta: the caller checks what it uses), or `undefined`
 * when it is missing, malformed or of the older JSON format.
 *
 * @example
 * ```ts
 * import { readBaselineRecords } from "./baseline.ts";
 * const top = await readBaselineRecords("/cache/agentbox/shares/0123456789abcdef/top-k.json");
 * console.log(top?.records.size);
 * ```
 */
export async function readBaselineRecords(path: string): Promise<BaselineRecords | undefined> {
  try {
    return parseBaselineText(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

/**
 * Read and validate a baseline written by {@linkcode writeBaseline} or {@linkcode writeWalk}, or
 * one of the JSON format before (`{"root":…,"takenAt":…,"entries":{…}}`). Throws
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
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    throw new ChangesetError(`Cannot read the baseline ${path}`, { cause });
  }
  const bad = (what: string) => new ChangesetError(`Baseline ${path} is corrupt: ${what}`);
  if (text.startsWith(BASELINE_MAGIC)) {
    const read = parseBaselineText(text);
    if (read === undefined) throw bad("malformed");
    if (!read.root.startsWith("/")) throw bad("bad root");
    const entries: Record<string, BaselineEntry> = Object.create(null);
    for (const [key, record] of read.records) {
      const entry = recordEntry(record);
      if (pathProblem(key) !== undefined || entry === undefined) {
        throw bad(`bad entry ${JSON.stringify(key).slice(0, 80)}`);
      }
      entries[key] = entry;
    }
    return { root: read.root, takenAt: read.takenAt, entries };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ChangesetError(`Cannot read the baseline ${path}`, { cause });
  }
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
