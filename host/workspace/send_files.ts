/**
 * A host path as a files stream (`files.write`, `agentbox cp PATH S:DEST`): the changes stream's
 * framing, one record a file, directory or symbolic link, the first naming the path by its last
 * component, later ones the paths below it, parents first. Links are sent as links, never
 * followed; what is neither (a socket, a device) and names that are not valid UTF-8 are skipped
 * and reported.
 *
 * @module
 */

import { encodeChangeEntry } from "@agentbox/protocol";
import { printable } from "../terminal_text.ts";

/** Pieces of file content are read and sent in chunks of this size. */
const CHUNK_BYTES = 256 * 1024;

/** What was sent, known once the stream has been read to its end. */
export interface SentFiles {
  entries: number;
  bytes: number;
  skipped: { path: string; reason: string }[];
}

/**
 * The files stream of `path` (an existing host path; its last component names the copy). `sent`
 * is filled in as the stream is read.
 *
 * @example
 * ```ts
 * import { sendFiles } from "./send_files.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * const { data, sent } = sendFiles(dir);
 * await new Response(data).arrayBuffer();
 * console.assert(sent.entries === 2 && sent.bytes === 2);
 * ```
 */
export function sendFiles(path: string): { data: ReadableStream<Uint8Array>; sent: SentFiles } {
  const sent: SentFiles = { entries: 0, bytes: 0, skipped: [] };
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const name = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return { data: ReadableStream.from(walk(trimmed, name, sent)), sent };
}

async function* walk(root: string, name: string, sent: SentFiles): AsyncGenerator<Uint8Array> {
  const pending: { path: string; rel: string }[] = [{ path: root, rel: name }];
  while (pending.length > 0) {
    const { path, rel } = pending.pop()!;
    if (rel.includes("\ufffd")) {
      sent.skipped.push({ path: printable(rel), reason: "name is not valid UTF-8" });
      continue;
    }
    const info = await Deno.lstat(path);
    const mode = (info.mode ?? 0) & 0o7777;
    if (info.isSymlink) {
      yield encodeChangeEntry({ path: rel, type: "symlink", target: await Deno.readLink(path) });
    } else if (info.isDirectory) {
      yield encodeChangeEntry({ path: rel, type: "dir", mode });
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      names.sort().reverse();
      for (const child of names) pending.push({ path: `${path}/${child}`, rel: `${rel}/${child}` });
    } else if (info.isFile) {
      yield encodeChangeEntry({ path: rel, type: "file", mode, size: info.size });
      yield* content(path, info.size);
      sent.bytes += info.size;
    } else {
      sent.skipped.push({ path: printable(rel), reason: "not a file, directory or link" });
      continue;
    }
    sent.entries++;
  }
}

/** Exactly `size` bytes of `path`, as its record announced. */
async function* content(path: string, size: number): AsyncGenerator<Uint8Array> {
  using file = await Deno.open(path);
  let left = size;
  while (left > 0) {
    const buffer = new Uint8Array(Math.min(left, CHUNK_BYTES));
    const n = await file.read(buffer);
    if (n === null || n === 0) throw new Error(`${printable(path)} shrank while it was copied`);
    left -= n;
    yield buffer.subarray(0, n);
  }
}
