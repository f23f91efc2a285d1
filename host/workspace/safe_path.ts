/**
 * Walking a workspace-relative path on the host without following symlinks. Deno has no
 * `openat`, so every operation of an apply first re-checks, with `lstat`, that the root is still
 * its own real path and that every parent component below it is a real directory; the operation
 * itself then only ever creates a new name (`O_EXCL`) or renames onto the final component, which
 * replaces a symlink there rather than writing through it.
 *
 * @module
 */

import { pathProblem } from "./changeset.ts";
import { printable } from "../terminal_text.ts";

/** A path the apply must not touch: a parent is a symlink or not a directory, or the root moved. */
export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePathError";
  }
}

/** The longest path the host's kernel takes in one call: `PATH_MAX` (4096) less its NUL. */
export const HOST_PATH_BYTES = 4095;

/**
 * Room an apply needs after a directory's path for its temporary names
 * (`.agentbox-apply-<id>-<n>.tmp`, apply_ops.ts).
 */
export const TEMP_NAME_BYTES = 64;

const encoder = new TextEncoder();

/**
 * Why `rel` (workspace-relative) cannot be created under `root` on this host, or `undefined`: its
 * whole path, or its directory's path plus room for a temporary name, is over
 * {@linkcode HOST_PATH_BYTES}. `forCreation: false` (a deletion) needs the path only.
 *
 * @example
 * ```ts
 * import { hostPathProblem } from "./safe_path.ts";
 * console.assert(hostPathProblem("/p", "a.txt", { forCreation: true }) === undefined);
 * console.assert(hostPathProblem("/p", "d/".repeat(2100) + "f", { forCreation: true }) !== undefined);
 * ```
 */
export function hostPathProblem(
  root: string,
  rel: string,
  options: { forCreation: boolean },
): string | undefined {
  const full = encoder.encode(`${root}/${rel}`).length;
  const name = encoder.encode(rel.slice(rel.lastIndexOf("/") + 1)).length;
  const needed = options.forCreation ? Math.max(full, full - name + TEMP_NAME_BYTES) : full;
  if (needed <= HOST_PATH_BYTES) return undefined;
  return full > HOST_PATH_BYTES
    ? `too long for the host: ${full} bytes with the project's directory, over the ` +
      `${HOST_PATH_BYTES}-byte limit`
    : `too long for the host: ${full} bytes with the project's directory, and writing it ` +
      `needs ${TEMP_NAME_BYTES} more for a temporary name (${HOST_PATH_BYTES} at most)`;
}

/**
 * `Deno.lstat(path)`, or `null` when nothing is there.
 *
 * @example
 * ```ts
 * import { lstatIfExists } from "./safe_path.ts";
 * console.assert((await lstatIfExists("/nonexistent-agentbox")) === null);
 * ```
 */
export async function lstatIfExists(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Check that `root` is a directory whose real path is `root` itself (no symlink anywhere in it).
 *
 * @example
 * ```ts
 * import { verifyRoot } from "./safe_path.ts";
 * await verifyRoot(await Deno.realPath(await Deno.makeTempDir()));
 * ```
 */
export async function verifyRoot(root: string): Promise<void> {
  const info = await lstatIfExists(root);
  if (info === null) throw new UnsafePathError(`Project directory ${root} is gone`);
  const real = await Deno.realPath(root).catch(() => "(nothing)");
  if (real !== root) {
    throw new UnsafePathError(`Project directory ${root} now resolves to ${real}`);
  }
  if (!info.isDirectory) throw new UnsafePathError(`Project directory ${root} is not a directory`);
}

/**
 * Re-check `rel` (workspace-relative) and every parent directory of it under `root`, with
 * `lstat`, right before an operation. Returns `"missing"` when a parent does not exist (nothing to
 * follow there), `"present"` when all parents are real directories; throws
 * {@linkcode UnsafePathError} when a parent is a symlink or something else, or `rel` is not a
 * clean relative path.
 *
 * @example
 * ```ts
 * import { verifyParents } from "./safe_path.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * console.assert((await verifyParents(root, "a/b.txt")) === "missing");
 * ```
 */
export async function verifyParents(root: string, rel: string): Promise<"present" | "missing"> {
  const problem = pathProblem(rel);
  if (problem) throw new UnsafePathError(`Unsafe path ${printable(rel)}: ${problem}`);
  await verifyRoot(root);
  const parts = rel.split("/");
  for (let n = 1; n < parts.length; n++) {
    const parent = parts.slice(0, n).join("/");
    const info = await lstatIfExists(`${root}/${parent}`);
    if (info === null) return "missing";
    if (info.isSymlink) {
      throw new UnsafePathError(`${printable(parent)} is a symlink on the host`);
    }
    if (!info.isDirectory) {
      throw new UnsafePathError(`${printable(parent)} is not a directory on the host`);
    }
  }
  return "present";
}
