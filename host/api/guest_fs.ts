/**
 * A running session's guest filesystem, one operation at a time, for front ends that address
 * files by path (the server's files routes, the E2B filesystem service): stat, list, read, write,
 * make a directory, move, remove. Each runs a fixed script of the image's own tools in the guest
 * (busybox in the default image) with the paths as arguments — never interpolated into a shell
 * string — and reads the guest's answer as hostile input: a line that does not parse is dropped.
 *
 * @module
 */

import { AgentboxError, UsageError } from "../agentbox_error.ts";
import type { ExecRequest } from "../channel/agent_client.ts";
import { escapeControls } from "../terminal_text.ts";
import { guestPath } from "./files.ts";
import { connectToSession, type SessionConnection } from "./session_connect.ts";

/** What a guest path is. */
export type GuestEntryType = "file" | "dir" | "symlink" | "other";

/** One guest path, as `stat` saw it. */
export interface GuestEntry {
  /** The last component of `path`. */
  name: string;
  /** Absolute, normalised guest path. */
  path: string;
  type: GuestEntryType;
  size: number;
  /** Permission bits (`0o755`). */
  mode: number;
  mtimeMs: number;
  /** A link's target (only for `stat` of a link). */
  target?: string;
}

/** Who the command runs as; absent: the session's default user. */
export interface GuestFsOptions {
  user?: string;
}

/** Exit statuses the scripts below use to say why they failed. */
const NOT_FOUND = 3;
const IS_DIR = 4;
const NOT_DIR = 5;
const EXISTS = 6;

/** How long a metadata command may take before the agent is given up on. */
const METADATA_DEADLINE_MS = 60_000;

/** Largest answer of a metadata command that is read (a listing of ~100,000 entries). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** `stat -c` format: raw mode in hex, size, mtime, name (the name last, it may hold `/`). */
const STAT_FORMAT = "%f/%s/%Y/%n";

const STAT_SCRIPT = `[ -e "$1" ] || [ -L "$1" ] || exit ${NOT_FOUND}
stat -c '${STAT_FORMAT}' -- "$1" || exit 1
if [ -L "$1" ]; then readlink -- "$1"; fi`;

const LIST_SCRIPT = `[ -e "$1" ] || exit ${NOT_FOUND}
[ -d "$1" ] || exit ${NOT_DIR}
find "$1" -mindepth 1 -maxdepth "$2" -exec stat -c '${STAT_FORMAT}' -- {} +`;

const READ_SCRIPT = `[ -e "$1" ] || exit ${NOT_FOUND}
[ -d "$1" ] && exit ${IS_DIR}
exec cat -- "$1"`;

const READ_TAR_SCRIPT = `[ -e "$1" ] || exit ${NOT_FOUND}
[ -d "$1" ] || exit ${NOT_DIR}
exec tar -C "$1" -cf - .`;

const WRITE_SCRIPT = `[ -d "$1" ] && exit ${IS_DIR}
mkdir -p -- "$(dirname -- "$1")" || exit 1
cat > "$1" || exit 1
if [ -n "$2" ]; then chmod -- "$2" "$1" || exit 1; fi`;

const WRITE_TAR_SCRIPT = `[ -e "$1" ] && [ ! -d "$1" ] && exit ${NOT_DIR}
mkdir -p -- "$1" || exit 1
exec tar -C "$1" -xf -`;

const MKDIR_SCRIPT = `[ -d "$1" ] && exit ${EXISTS}
[ -e "$1" ] && exit ${NOT_DIR}
exec mkdir -p -- "$1"`;

const MOVE_SCRIPT = `[ -e "$1" ] || [ -L "$1" ] || exit ${NOT_FOUND}
mkdir -p -- "$(dirname -- "$2")" || exit 1
exec mv -f -- "$1" "$2"`;

const REMOVE_SCRIPT = `[ -e "$1" ] || [ -L "$1" ] || exit ${NOT_FOUND}
exec rm -rf -- "$1"`;

/**
 * Stat `path` (relative paths are taken from `/workspace`) in running session `session`; a link
 * is not followed. Throws `AgentboxError` `path_not_found` (kind `not_found`), `SessionError`.
 *
 * @example
 * ```ts ignore
 * import { statGuestPath } from "./guest_fs.ts";
 * console.log((await statGuestPath("web", "/etc/hosts")).size);
 * ```
 */
export async function statGuestPath(
  session: string,
  path: string,
  options: GuestFsOptions = {},
): Promise<GuestEntry> {
  const target = guestPath(path);
  const answer = await runScript(session, STAT_SCRIPT, [target], options);
  const [line, link] = answer.split("\n");
  const entry = parseStatLine(line ?? "");
  if (!entry) throw badAnswer(target);
  return entry.type === "symlink" && link !== undefined ? { ...entry, target: link } : entry;
}

/**
 * List directory `path` of running session `session`, `depth` levels deep (default 1), sorted by
 * path. Throws `AgentboxError` `path_not_found`, `not_a_directory` (kind `usage`).
 *
 * @example
 * ```ts ignore
 * import { listGuestDir } from "./guest_fs.ts";
 * for (const entry of await listGuestDir("web", "/workspace")) console.log(entry.name);
 * ```
 */
export async function listGuestDir(
  session: string,
  path: string,
  options: GuestFsOptions & { depth?: number } = {},
): Promise<GuestEntry[]> {
  const depth = options.depth ?? 1;
  if (!Number.isInteger(depth) || depth < 1 || depth > 64) {
    throw new UsageError("A listing depth is a whole number from 1 to 64", {
      code: "depth_invalid",
    });
  }
  const target = guestPath(path);
  const answer = await runScript(session, LIST_SCRIPT, [target, String(depth)], options);
  const prefix = target === "/" ? "/" : `${target}/`;
  return answer.split("\n")
    .map(parseStatLine)
    // A name holding a newline splits into lines that do not parse, or land outside the directory.
    .filter((e): e is GuestEntry => e !== undefined && e.path.startsWith(prefix))
    .sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** An open read of a guest file or directory. */
export interface GuestRead {
  /** The bytes (a file's contents, or a tar archive of a directory). */
  data: ReadableStream<Uint8Array>;
  /** Resolves when the guest finished sending; rejects if it failed midway. */
  done: Promise<void>;
  /** Stop reading (the guest's command is killed). */
  cancel(): Promise<void>;
}

/**
 * Read `path` of running session `session`: a file's bytes, or with `tar` a directory as a tar
 * archive. Throws before any byte when the path is missing or of the other kind
 * (`path_not_found`, `is_a_directory`, `not_a_directory`).
 *
 * @example
 * ```ts ignore
 * import { readGuestFile } from "./guest_fs.ts";
 * const read = await readGuestFile("web", "/etc/hostname");
 * console.log(await new Response(read.data).text());
 * ```
 */
export async function readGuestFile(
  session: string,
  path: string,
  options: GuestFsOptions & { tar?: boolean } = {},
): Promise<GuestRead> {
  const target = guestPath(path);
  const connection = await connectToSession(session);
  const run = connection.agent.exec(
    scriptRequest(options.tar ? READ_TAR_SCRIPT : READ_SCRIPT, [target], options),
  );
  const stderr = new Response(run.stderr).text();
  // The first chunk, or the end: a refusal (exit 3/4/5) comes before any byte.
  const reader = run.stdout.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
    if (first.done) {
      const result = await run.result;
      if (result.code !== 0) {
        throw scriptFailure(target, result.code, await stderr, connection);
      }
    }
  } catch (error) {
    connection.agent.close();
    throw error;
  }
  let finish!: (error?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (error) => error === undefined ? resolve() : reject(error);
  });
  done.catch(() => {});
  const data = new ReadableStream<Uint8Array>({
    start(controller) {
      if (first.done) {
        controller.close();
        connection.agent.close();
        finish();
        return;
      }
      controller.enqueue(first.value);
    },
    async pull(controller) {
      try {
        const next = await reader.read();
        if (!next.done) return controller.enqueue(next.value);
        const result = await run.result;
        if (result.code !== 0) {
          const error = scriptFailure(target, result.code, await stderr, connection);
          controller.error(error);
          finish(error);
        } else {
          controller.close();
          finish();
        }
      } catch (error) {
        controller.error(error);
        finish(error);
      }
      connection.agent.close();
    },
    async cancel() {
      await run.signal("SIGKILL").catch(() => {});
      connection.agent.close();
      finish();
    },
  });
  return {
    data,
    done,
    cancel: () => data.cancel(),
  };
}

/**
 * Write `data` to `path` of running session `session` (its parent directories are made), or with
 * `tar` unpack a tar archive into directory `path`. `mode` is an octal string (`"644"`). Throws
 * `is_a_directory`, `not_a_directory`, `AgentboxError` `write_failed`.
 *
 * @example
 * ```ts ignore
 * import { writeGuestFile } from "./guest_fs.ts";
 * await writeGuestFile("web", "notes.txt", new Blob(["hi\n"]).stream());
 * ```
 */
export async function writeGuestFile(
  session: string,
  path: string,
  data: ReadableStream<Uint8Array>,
  options: GuestFsOptions & { mode?: string; tar?: boolean } = {},
): Promise<void> {
  const target = guestPath(path);
  if (options.mode !== undefined && !/^[0-7]{3,4}$/.test(options.mode)) {
    throw new UsageError(
      `A file mode is 3 or 4 octal digits, not ${JSON.stringify(options.mode)}`,
      {
        code: "mode_invalid",
      },
    );
  }
  const args = options.tar ? [target] : [target, options.mode ?? ""];
  await runScript(session, options.tar ? WRITE_TAR_SCRIPT : WRITE_SCRIPT, args, options, data);
}

/**
 * Make directory `path` (and its parents) in running session `session`. Resolves `false` when it
 * existed. Throws `not_a_directory` when something else is there.
 *
 * @example
 * ```ts ignore
 * import { makeGuestDir } from "./guest_fs.ts";
 * await makeGuestDir("web", "/workspace/out");
 * ```
 */
export async function makeGuestDir(
  session: string,
  path: string,
  options: GuestFsOptions = {},
): Promise<boolean> {
  try {
    await runScript(session, MKDIR_SCRIPT, [guestPath(path)], options);
    return true;
  } catch (error) {
    if (error instanceof AgentboxError && error.code === "path_exists") return false;
    throw error;
  }
}

/**
 * Move (rename) `from` to `to` in running session `session`, replacing what is at `to`.
 *
 * @example
 * ```ts ignore
 * import { moveGuestPath } from "./guest_fs.ts";
 * await moveGuestPath("web", "a.txt", "b.txt");
 * ```
 */
export async function moveGuestPath(
  session: string,
  from: string,
  to: string,
  options: GuestFsOptions = {},
): Promise<void> {
  await runScript(session, MOVE_SCRIPT, [guestPath(from), guestPath(to)], options);
}

/**
 * Remove `path` (recursively) in running session `session`. Throws `path_not_found`.
 *
 * @example
 * ```ts ignore
 * import { removeGuestPath } from "./guest_fs.ts";
 * await removeGuestPath("web", "/tmp/scratch");
 * ```
 */
export async function removeGuestPath(
  session: string,
  path: string,
  options: GuestFsOptions = {},
): Promise<void> {
  const target = guestPath(path);
  if (target === "/") {
    throw new UsageError("Refusing to remove the guest's root directory", {
      code: "path_invalid",
    });
  }
  await runScript(session, REMOVE_SCRIPT, [target], options);
}

/**
 * Parse one `stat -c '%f/%s/%Y/%n'` line; undefined when it is not one.
 *
 * @example
 * ```ts
 * import { parseStatLine } from "./guest_fs.ts";
 * const entry = parseStatLine("81a4/12/1700000000//workspace/a.txt");
 * console.assert(entry?.type === "file" && entry.mode === 0o644 && entry.name === "a.txt");
 * ```
 */
export function parseStatLine(line: string): GuestEntry | undefined {
  const match = /^([0-9a-f]{1,8})\/(\d{1,20})\/(\d{1,20})\/(\/.*)$/.exec(line);
  if (!match) return undefined;
  const raw = parseInt(match[1], 16);
  const path = match[4];
  if (path.includes("\0") || (path !== "/" && path.endsWith("/"))) return undefined;
  const format = raw & 0o170000;
  const type: GuestEntryType = format === 0o100000
    ? "file"
    : format === 0o040000
    ? "dir"
    : format === 0o120000
    ? "symlink"
    : "other";
  return {
    name: path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1),
    path,
    type,
    size: Number(match[2]),
    mode: raw & 0o7777,
    mtimeMs: Number(match[3]) * 1000,
  };
}

function scriptRequest(
  script: string,
  args: string[],
  options: GuestFsOptions,
  stdin?: ReadableStream<Uint8Array>,
): ExecRequest {
  return {
    argv: ["/bin/sh", "-c", script, "sh", ...args],
    user: options.user,
    stdin,
  };
}

/** Run `script` to its end and return its stdout (bounded); a non-zero exit becomes an error. */
async function runScript(
  session: string,
  script: string,
  args: string[],
  options: GuestFsOptions,
  stdin?: ReadableStream<Uint8Array>,
): Promise<string> {
  const connection = await connectToSession(session);
  try {
    const run = connection.agent.exec({
      ...scriptRequest(script, args, options, stdin),
      deadlineMs: stdin ? undefined : METADATA_DEADLINE_MS,
    });
    const [stdout, stderr, result] = await Promise.all([
      boundedText(run.stdout, MAX_ANSWER_BYTES),
      boundedText(run.stderr, 4096),
      run.result,
    ]);
    if (result.code !== 0) throw scriptFailure(args[0], result.code, stderr, connection);
    return stdout;
  } catch (error) {
    if (error instanceof AgentboxError) throw error;
    throw connection.lost(error);
  } finally {
    connection.agent.close();
  }
}

async function boundedText(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of stream) {
    if (size >= limit) continue;
    text += decoder.decode(chunk.subarray(0, limit - size), { stream: true });
    size += Math.min(chunk.length, limit - size);
  }
  return text + decoder.decode();
}

function scriptFailure(
  path: string,
  code: number | null,
  stderr: string,
  connection: Pick<SessionConnection, "name">,
): AgentboxError {
  const shown = JSON.stringify(path);
  switch (code) {
    case NOT_FOUND:
      return new AgentboxError(`${shown} does not exist in session ${connection.name}`, {
        kind: "not_found",
        code: "path_not_found",
      });
    case IS_DIR:
      return new UsageError(`${shown} is a directory in session ${connection.name}`, {
        code: "is_a_directory",
      });
    case NOT_DIR:
      return new UsageError(`${shown} is not a directory in session ${connection.name}`, {
        code: "not_a_directory",
      });
    case EXISTS:
      return new AgentboxError(`${shown} exists in session ${connection.name}`, {
        kind: "conflict",
        code: "path_exists",
      });
  }
  const reason = escapeControls(stderr.trim().split("\n").pop() ?? "").slice(0, 200);
  return new AgentboxError(
    `The guest could not do it on ${shown} (exit ${code ?? "by a signal"})` +
      (reason ? `: ${reason}` : ""),
    { kind: "guest", code: "guest_fs_failed" },
  );
}

function badAnswer(path: string): AgentboxError {
  return new AgentboxError(`The guest's answer about ${JSON.stringify(path)} did not parse`, {
    kind: "guest",
    code: "guest_fs_failed",
  });
}
