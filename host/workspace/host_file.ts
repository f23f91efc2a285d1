/**
 * Reading files of the host tree by workspace path without ever following a symlink: every
 * ancestor must be a real directory, the file itself a regular file, and the opened file must be
 * the one that was checked (same device and inode). A path that fails any check reads as absent.
 *
 * @module
 */

import { createHash } from "node:crypto";

/**
 * `lstat` of `root/path`, or `undefined` when it is missing or any ancestor is not a directory.
 *
 * @example
 * ```ts
 * import { lstatUnder } from "./host_file.ts";
 * console.log((await lstatUnder("/etc", "ssh/sshd_config"))?.size);
 * ```
 */
export async function lstatUnder(root: string, path: string): Promise<Deno.FileInfo | undefined> {
  const parts = path.split("/");
  let current = root;
  for (let i = 0; i < parts.length; i++) {
    current = `${current}/${parts[i]}`;
    const info = await Deno.lstat(current).catch(() => undefined);
    if (!info || (i < parts.length - 1 && !info.isDirectory)) return undefined;
    if (i === parts.length - 1) return info;
  }
  return undefined;
}

/**
 * Open the regular file `root/path` for reading, or return `undefined` (missing, not a regular
 * file, or reached through a symlink).
 *
 * @example
 * ```ts
 * import { openUnder } from "./host_file.ts";
 * const file = await openUnder("/etc", "hostname");
 * file?.close();
 * ```
 */
export async function openUnder(root: string, path: string): Promise<Deno.FsFile | undefined> {
  const info = await lstatUnder(root, path);
  if (!info?.isFile) return undefined;
  const file = await Deno.open(`${root}/${path}`).catch(() => undefined);
  if (!file) return undefined;
  const opened = await file.stat();
  if (opened.ino !== info.ino || opened.dev !== info.dev) {
    file.close();
    return undefined;
  }
  return file;
}

/**
 * At most `limit` bytes from the start of the regular file `root/path`, or `undefined`.
 *
 * @example
 * ```ts
 * import { readUnder } from "./host_file.ts";
 * const head = await readUnder("/etc", "hostname", 8192);
 * ```
 */
export async function readUnder(
  root: string,
  path: string,
  limit: number,
): Promise<Uint8Array | undefined> {
  const file = await openUnder(root, path);
  if (!file) return undefined;
  try {
    const buffer = new Uint8Array(limit);
    let filled = 0;
    while (filled < limit) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

/**
 * Hex SHA-256 of the regular file `root/path`, read in chunks, or `undefined`.
 *
 * @example
 * ```ts
 * import { hashUnder } from "./host_file.ts";
 * console.log(await hashUnder("/etc", "hostname"));
 * ```
 */
export async function hashUnder(root: string, path: string): Promise<string | undefined> {
  const file = await openUnder(root, path);
  if (!file) return undefined;
  const hash = createHash("sha256");
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}
