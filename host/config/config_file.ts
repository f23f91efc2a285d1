/**
 * Reading a configuration file (the user's `config.toml`, a project's `.agentbox.toml`) that may
 * be anything: a cloned repository can ship `.agentbox.toml` as a FIFO (reading it blocks for
 * ever), a symlink to `/dev/zero` (it never ends), a socket or a directory. Only a regular file of
 * at most {@linkcode CONFIG_MAX_BYTES} is read — directly or through symlinks that end at one — and
 * the file opened must be the one checked; anything else is a {@linkcode ConfigError} naming it.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";

/** Largest configuration file read: far above any real one, far below a memory problem. */
export const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * What kind of file `info` describes, as words for a message ("a FIFO", "a directory").
 *
 * @example
 * ```ts
 * import { fileKind } from "./config_file.ts";
 * console.assert(fileKind(Deno.statSync("/dev/null")) === "a character device");
 * ```
 */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symlink";
  if (info.isFifo) return "a FIFO";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "not a regular file";
}

/**
 * The text of configuration file `file`, or `undefined` when nothing is there. Throws
 * {@linkcode ConfigError} when it is not a regular file (after following symlinks), is larger
 * than {@linkcode CONFIG_MAX_BYTES}, changed between the check and the open, or is not UTF-8.
 * A dangling symlink is an error too, not a missing file: it names something that is not there.
 *
 * @example
 * ```ts
 * import { readConfigFile } from "./config_file.ts";
 * console.assert((await readConfigFile("/nonexistent/config.toml")) === undefined);
 * ```
 */
export async function readConfigFile(file: string): Promise<string | undefined> {
  let link: Deno.FileInfo;
  try {
    link = await Deno.lstat(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new ConfigError({ file }, "cannot read file", { cause: err });
  }
  let info = link;
  if (link.isSymlink) {
    try {
      info = await Deno.stat(file);
    } catch (err) {
      throw new ConfigError({ file }, "is a symlink to nothing readable", { cause: err });
    }
  }
  checkRegular(file, info, link.isSymlink);
  // Checked just now, but it can be swapped before the open: the opened file must be the same.
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(file, { read: true });
  } catch (err) {
    throw new ConfigError({ file }, "cannot read file", { cause: err });
  }
  try {
    const opened = await handle.stat();
    if (opened.ino !== info.ino || opened.dev !== info.dev) {
      throw new ConfigError({ file }, "changed while it was being read: try again");
    }
    checkRegular(file, opened, link.isSymlink);
    return decode(file, await readBounded(file, handle));
  } finally {
    handle.close();
  }
}

function checkRegular(file: string, info: Deno.FileInfo, viaLink: boolean): void {
  if (!info.isFile) {
    const what = viaLink ? `a symlink to ${fileKind(info)}` : fileKind(info);
    throw new ConfigError({ file }, `is ${what}, not a regular file`);
  }
  if (info.size > CONFIG_MAX_BYTES) throw tooLarge(file);
}

async function readBounded(file: string, handle: Deno.FsFile): Promise<Uint8Array> {
  const buffer = new Uint8Array(CONFIG_MAX_BYTES + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await handle.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  if (filled > CONFIG_MAX_BYTES) throw tooLarge(file);
  return buffer.subarray(0, filled);
}

function tooLarge(file: string): ConfigError {
  return new ConfigError({ file }, `is larger than ${CONFIG_MAX_BYTES / 1024} KiB`);
}

function decode(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new ConfigError({ file }, "is not valid UTF-8", { cause });
  }
}
