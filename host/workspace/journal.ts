/**
 * The apply journal: written and fsync'd before the first change to the host, so an interrupted
 * apply can be resumed or rolled back. Layout of the journal directory:
 *
 * ```
 * journal.jsonl   {"type":"header",...}, one {"type":"op",...} per operation,
 *                 {"type":"ready"} once every backup is on disk,
 *                 then one {"type":"done","index":N,...} per finished operation
 * backups/N       hard link to (or copy of) the file operation N replaces or deletes
 * ```
 *
 * A journal without its `ready` line never touched the host. Lines are appended and fsync'd one
 * at a time; a torn last line (the process was killed while writing it) is ignored.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { baselineEntry } from "./baseline.ts";
import type { ApplyOp, OutcomeResult, PathOutcome } from "./apply_plan.ts";
import { fileSink } from "./blob.ts";
import { printable } from "../terminal_text.ts";
import { sameFacts } from "./host_facts.ts";
import { lstatIfExists, verifyParents } from "./safe_path.ts";

/** The first line: which changeset, onto which directory, and the plan's per-path outcomes. */
export interface JournalHeader {
  type: "header";
  version: 1;
  /** Identifies the changeset (SHA-256 of its records). */
  changeset: string;
  root: string;
  /** Random; names this apply's temporary files. */
  id: string;
  createdAt: number;
  outcomes: PathOutcome[];
}

/** Where the previous content of an operation's path was saved. */
export type Backup = { file: string } | { link: string };

/** One planned operation, in execution order. */
export interface JournalOp {
  type: "op";
  index: number;
  op: ApplyOp;
  backup?: Backup;
}

/** How a finished operation ended. */
export interface OpDone {
  result: OutcomeResult;
  reason?: string;
}

type JournalLine = Omit<Partial<JournalOp & OpDone>, "type"> & { type: string };

/** A journal as read back from disk. */
export interface JournalState {
  dir: string;
  header: JournalHeader;
  ops: JournalOp[];
  ready: boolean;
  done: Map<number, OpDone>;
}

/** The journal cannot be written or read, or does not match the host any more. */
export class JournalError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "failed", code: "journal_failed" });
    this.name = "JournalError";
  }
}

const encoder = new TextEncoder();

/**
 * Create the journal in `dir` (which must not exist): header, operations, a backup of every file
 * or symlink an operation replaces or deletes, then the `ready` line, all fsync'd. Throws
 * {@linkcode JournalError} when a path changed since planning (nothing on the host was touched).
 *
 * @example
 * ```ts
 * import { createJournal } from "./journal.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const dir = `${await Deno.makeTempDir()}/journal`;
 * await createJournal(dir, {
 *   type: "header", version: 1, changeset: "x", root, id: "abc", createdAt: 0, outcomes: [],
 * }, []);
 * ```
 */
export async function createJournal(
  dir: string,
  header: JournalHeader,
  ops: readonly ApplyOp[],
): Promise<JournalState> {
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.mkdir(`${dir}/backups`, { mode: 0o700 });
  const entries: JournalOp[] = [];
  for (const [index, op] of ops.entries()) {
    entries.push({ type: "op", index, op, backup: await backUp(dir, header.root, index, op) });
  }
  await appendLines(dir, [header, ...entries]);
  await syncDir(`${dir}/backups`);
  await appendLines(dir, [{ type: "ready" }]);
  await syncDir(dir);
  return { dir, header, ops: entries, ready: true, done: new Map() };
}

async function backUp(
  dir: string,
  root: string,
  index: number,
  op: ApplyOp,
): Promise<Backup | undefined> {
  const before = op.before;
  if (op.kind === "chmod" || op.kind === "mkdir" || before === null || before.type === "dir") {
    return undefined;
  }
  await verifyParents(root, op.path);
  const source = `${root}/${op.path}`;
  const info = await lstatIfExists(source);
  if (!sameFacts(info && baselineEntry(info), before)) {
    throw new JournalError(`${printable(op.path)} changed while the apply was being prepared`);
  }
  if (before.type === "symlink") return { link: await Deno.readLink(source) };
  const name = String(index);
  await saveFile(source, `${dir}/backups/${name}`, before.ino);
  return { file: name };
}

/** Hard-link `source` to `target`, or copy it (mode and times kept) across file systems. */
async function saveFile(source: string, target: string, ino: number): Promise<void> {
  try {
    await Deno.link(source, target);
    if ((await Deno.lstat(target)).ino === ino) return;
    throw new JournalError(`${target} is not the file that was planned`);
  } catch (error) {
    if ((error as { code?: string }).code !== "EXDEV") throw error;
  }
  await copyPreserving(source, target);
}

/**
 * Copy the regular file `source` to the new name `target`: content fsync'd, permission bits and
 * times preserved. Never follows a symlink at `target` (it must not exist).
 *
 * @example
 * ```ts
 * import { copyPreserving } from "./journal.ts";
 * const source = await Deno.makeTempFile();
 * await copyPreserving(source, `${source}.copy`);
 * ```
 */
export async function copyPreserving(source: string, target: string): Promise<void> {
  const info = await Deno.lstat(source);
  if (!info.isFile) throw new JournalError(`${source} is not a regular file`);
  using from = await Deno.open(source, { read: true });
  using to = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
  const sink = fileSink(to);
  const buffer = new Uint8Array(256 * 1024);
  for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
    await sink(buffer.subarray(0, n));
  }
  await to.sync();
  await Deno.chmod(target, (info.mode ?? 0o600) & 0o777);
  await Deno.utime(target, info.atime ?? new Date(), info.mtime ?? new Date());
}

/**
 * Record that operation `index` finished with `done`, fsync'd before returning.
 *
 * @example
 * ```ts
 * import { markDone } from "./journal.ts";
 * await markDone(await Deno.makeTempDir(), 0, { result: "applied" });
 * ```
 */
export async function markDone(dir: string, index: number, done: OpDone): Promise<void> {
  await appendLines(dir, [{ type: "done", index, ...done }]);
}

async function appendLines(dir: string, lines: unknown[]): Promise<void> {
  const text = lines.map((line) => `${JSON.stringify(line)}\n`).join("");
  using file = await Deno.open(`${dir}/journal.jsonl`, {
    append: true,
    create: true,
    mode: 0o600,
  });
  await fileSink(file)(encoder.encode(text));
  await file.sync();
}

/**
 * Read the journal in `dir`, or `null` when there is none. Throws {@linkcode JournalError} for a
 * journal that cannot be understood (it is left in place for the user to inspect).
 *
 * @example
 * ```ts
 * import { readJournal } from "./journal.ts";
 * console.assert((await readJournal("/nonexistent-journal")) === null);
 * ```
 */
export async function readJournal(dir: string): Promise<JournalState | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/journal.jsonl`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return (await lstatIfExists(dir)) ? emptyJournal(dir) : null;
  }
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  const lines = complete.split("\n").filter((line) => line !== "").map((line) => parse(dir, line));
  const header = lines[0] as JournalHeader | undefined;
  if (header?.type !== "header") return emptyJournal(dir);
  if (header.version !== 1) throw new JournalError(`Unknown apply journal version in ${dir}`);
  const state: JournalState = { dir, header, ops: [], ready: false, done: new Map() };
  for (const line of lines.slice(1) as JournalLine[]) {
    if (line.type === "op") state.ops.push(line as unknown as JournalOp);
    if (line.type === "ready") state.ready = true;
    if (line.type === "done") {
      state.done.set(line.index!, { result: line.result!, reason: line.reason });
    }
  }
  return state;
}

/** A journal directory whose header never reached the disk: nothing was touched. */
function emptyJournal(dir: string): JournalState {
  const header: JournalHeader = {
    type: "header",
    version: 1,
    changeset: "",
    root: "",
    id: "",
    createdAt: 0,
    outcomes: [],
  };
  return { dir, header, ops: [], ready: false, done: new Map() };
}

function parse(dir: string, line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (cause) {
    throw new JournalError(`Apply journal ${dir}/journal.jsonl is corrupt`, { cause });
  }
}

/**
 * Delete the journal directory (after success, a rollback, or when it was never ready).
 *
 * @example
 * ```ts
 * import { removeJournal } from "./journal.ts";
 * await removeJournal(await Deno.makeTempDir());
 * ```
 */
export async function removeJournal(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * fsync a directory, so the names created or renamed in it survive a crash.
 *
 * @example
 * ```ts
 * import { syncDir } from "./journal.ts";
 * await syncDir("/tmp");
 * ```
 */
export async function syncDir(path: string): Promise<void> {
  using dir = await Deno.open(path, { read: true });
  await dir.sync();
}
