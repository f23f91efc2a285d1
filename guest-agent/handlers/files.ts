/**
 * `files.read` and `files.write`: copy a guest path out as a files stream, or write one into the
 * guest (`agentbox cp`). A files stream has the changes stream's framing
 * (protocol/changes_stream.ts): one record a file, directory or symbolic link, the first naming the
 * copied path by its last component, every later one a path below it, a file's record followed by
 * exactly `size` bytes. Symbolic links travel as links, never followed.
 *
 * @module
 */

import type { FilesRead, FilesWrite, StreamPort } from "@agentbox/protocol";
import { encodeChangeEntry, ProtocolError, readChangesStream } from "@agentbox/protocol";
import { BatchWriter, sendContent } from "./entry_writer.ts";
import { type GuestUser, lookupUser } from "./exec_user.ts";

function failed(message: string, cause?: unknown): ProtocolError {
  return new ProtocolError("files_failed", message, { cause });
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last component of an absolute path; undefined for `/`. */
function lastName(path: string): string | undefined {
  const trimmed = path.replace(/\/+$/, "");
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return name === "" || name === "." || name === ".." ? undefined : name;
}

/**
 * Send `request.path` as a files stream on fd 1, then `files.done`. Throws `files_failed` (before
 * anything is sent) when the path cannot be read.
 */
export async function readFiles(conn: StreamPort, request: FilesRead): Promise<void> {
  const name = lastName(request.path);
  if (name === undefined) {
    throw failed(`Cannot copy ${request.path}: name a file or directory below /`);
  }
  const root = request.path.replace(/\/+$/, "");
  try {
    await Deno.lstat(root);
  } catch (error) {
    throw failed(`Cannot copy ${request.path}: ${describeError(error)}`, error);
  }
  const out = new BatchWriter(conn.transmit(request.stream, 1).getWriter());
  let entries = 0;
  try {
    // Depth first, parents before their children, each directory's names in sorted order.
    const pending: { path: string; rel: string }[] = [{ path: root, rel: name }];
    while (pending.length > 0) {
      const { path, rel } = pending.pop()!;
      const info = await Deno.lstat(path).catch(() => null);
      if (info === null) continue; // gone since it was listed
      entries++;
      const mode = (info.mode ?? 0) & 0o7777;
      if (info.isSymlink) {
        await out.add(
          encodeChangeEntry({ path: rel, type: "symlink", target: await readLink(path) }),
        );
      } else if (info.isFile) {
        await out.add(encodeChangeEntry({ path: rel, type: "file", mode, size: info.size }));
        await sendContent(out, path, info.size);
      } else if (info.isDirectory) {
        await out.add(encodeChangeEntry({ path: rel, type: "dir", mode }));
        const names: string[] = [];
        for await (const entry of Deno.readDir(path)) names.push(entry.name);
        names.sort().reverse();
        for (const child of names) {
          pending.push({ path: `${path}/${child}`, rel: `${rel}/${child}` });
        }
      } else {
        await out.add(
          encodeChangeEntry({
            path: rel,
            type: "unsupported",
            detail: "not a file, directory or link",
          }),
        );
      }
    }
    await out.close();
  } catch (error) {
    await out.abort(error).catch(() => {});
    throw failed(`Cannot copy ${request.path}: ${describeError(error)}`, error);
  }
  conn.forget(request.stream);
  await conn.send({ type: "files.done", stream: request.stream, entries });
}

async function readLink(path: string): Promise<string> {
  const target = await Deno.readLink(path);
  return target === "" ? "." : target;
}

/** A record of a files stream written into the guest: checked here, the host is no exception. */
type WriteRecord =
  | { path: string; type: "file"; mode: number; size: number }
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "symlink"; target: string };

function checkRecord(raw: unknown, root: string | undefined): WriteRecord {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw failed("A files entry is not a map");
  }
  const r = raw as Record<string, unknown>;
  const path = Object.hasOwn(r, "path") ? r.path : undefined;
  if (typeof path !== "string" || path.length > 4096) throw failed("A files entry has no path");
  const parts = path.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\0"))) {
    throw failed(`Bad path in a files entry: ${JSON.stringify(path.slice(0, 100))}`);
  }
  if (root === undefined ? parts.length !== 1 : parts[0] !== root || parts.length === 1) {
    throw failed(`A files entry is outside the copied tree: ${JSON.stringify(path.slice(0, 100))}`);
  }
  const mode = typeof r.mode === "number" && Number.isInteger(r.mode) && r.mode >= 0 &&
      r.mode <= 0o7777
    ? r.mode
    : undefined;
  switch (r.type) {
    case "file":
      if (mode === undefined || !Number.isSafeInteger(r.size) || (r.size as number) < 0) {
        throw failed(`Bad file entry ${JSON.stringify(path.slice(0, 100))}`);
      }
      return { path, type: "file", mode, size: r.size as number };
    case "dir":
      if (mode === undefined) throw failed(`Bad directory entry ${JSON.stringify(path)}`);
      return { path, type: "dir", mode };
    case "symlink":
      if (typeof r.target !== "string" || r.target === "" || r.target.includes("\0")) {
        throw failed(`Bad symlink entry ${JSON.stringify(path.slice(0, 100))}`);
      }
      return { path, type: "symlink", target: r.target };
    default:
      throw failed(`Unknown entry type in ${JSON.stringify(path.slice(0, 100))}`);
  }
}

/**
 * Write the files stream arriving on fd 0 to `request.path`, then send `files.done`: into the path
 * when it is a directory, as the path otherwise (its parent must exist). Existing files are
 * replaced, existing directories merged into. Throws `files_failed`.
 */
export async function writeFiles(conn: StreamPort, request: FilesWrite): Promise<void> {
  const user: GuestUser | undefined = request.user === undefined ? undefined : (() => {
    try {
      return lookupUser(request.user);
    } catch (error) {
      throw failed(describeError(error), error);
    }
  })();
  const input = conn.receive(request.stream, 0);
  const dest = request.path.length > 1 ? request.path.replace(/\/+$/, "") : request.path;
  let root: string | undefined;
  let base = "";
  let file: Deno.FsFile | undefined;
  const dirModes: { path: string; mode: number }[] = [];
  // Only names just made as files or directories are chowned (Deno has no lchown: a link stays
  // root's, which changes nothing for the user).
  const own = async (path: string) => {
    if (user) await Deno.chown(path, user.uid, user.gid);
  };
  const entries = await readChangesStream(input, {
    entry: async (raw) => {
      const record = checkRecord(raw, root);
      if (root === undefined) {
        root = record.path;
        const info = await Deno.stat(dest).catch(() => null);
        base = info?.isDirectory ? `${dest === "/" ? "" : dest}/${root}` : dest;
      }
      const target = base + record.path.slice(root.length);
      const existing = await Deno.lstat(target).catch(() => null);
      if (record.type === "dir") {
        if (existing && !existing.isDirectory) await Deno.remove(target);
        if (!existing?.isDirectory) await Deno.mkdir(target, { mode: 0o700 });
        await own(target);
        dirModes.push({ path: target, mode: record.mode });
        return 0;
      }
      if (existing) await Deno.remove(target, { recursive: true });
      if (record.type === "symlink") {
        await Deno.symlink(record.target, target);
        return 0;
      }
      file = await Deno.open(target, { write: true, createNew: true, mode: 0o600 });
      await own(target);
      await Deno.chmod(target, record.mode);
      if (record.size === 0) {
        file.close();
        file = undefined;
      }
      return record.size;
    },
    content: async (chunk) => {
      let at = 0;
      while (at < chunk.length) at += await file!.write(chunk.subarray(at));
    },
    contentEnd: () => {
      file?.close();
      file = undefined;
    },
  }).catch((error) => {
    file?.close();
    input.cancel().catch(() => {});
    conn.forget(request.stream);
    throw error instanceof ProtocolError && error.code === "files_failed"
      ? error
      : failed(`Cannot write ${request.path}: ${describeError(error)}`, error);
  });
  // Deepest first, so that a read-only directory is closed only once everything is in it.
  for (const { path, mode } of dirModes.reverse()) await Deno.chmod(path, mode);
  conn.forget(request.stream);
  await conn.send({ type: "files.done", stream: request.stream, entries });
}
