/**
 * Where a project's `.agentbox.toml` is: found the way git finds `.git` — from the project
 * directory (the shared directory, else the one the user works in) up through its parents, to
 * the first directory that has one; the walk stops at the repository's root (a directory holding
 * `.git`) or at the file system's root. With none found, the file belongs in the repository's
 * root, else in the project directory: that is where `--net learn` and "allow always" create it.
 *
 * A file found in a parent of the project directory must belong to the user running agentbox (or
 * root): a `.agentbox.toml` someone else dropped in `/tmp` or `/home` must not set the policy of
 * every project below it.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { ConfigError } from "./config_error.ts";

/** The file name of a project's configuration. */
export const PROJECT_FILE = ".agentbox.toml";

/** Where a project's configuration is. */
export interface ProjectFile {
  /** The project directory the search started from. */
  projectDir: string;
  /** The directory holding (or to hold) `.agentbox.toml`. */
  dir: string;
  /** `<dir>/.agentbox.toml`. */
  file: string;
  /** Whether something is there (a regular file or not: the reader checks). */
  exists: boolean;
  /** The repository root met on the way up, if any. */
  repoRoot?: string;
}

/**
 * Find the `.agentbox.toml` of the project at `projectDir` (an absolute path). Throws
 * {@linkcode ConfigError} when the file found in a parent directory belongs to another user.
 *
 * @example
 * ```ts
 * import { findProjectFile } from "./project_file.ts";
 * const { file, exists } = await findProjectFile(Deno.cwd());
 * console.log(exists ? `using ${file}` : `none (would be ${file})`);
 * ```
 */
export async function findProjectFile(projectDir: string): Promise<ProjectFile> {
  const start = resolve(projectDir);
  for (let dir = start;; dir = dirname(dir)) {
    const file = join(dir, PROJECT_FILE);
    const info = await lstat(file);
    if (info) {
      if (dir !== start) checkOwner(file, info);
      // A .git below `dir` would have ended the walk there: only `dir` itself can be the root.
      const repoRoot = await lstat(join(dir, ".git")) ? dir : undefined;
      return { projectDir: start, dir, file, exists: true, repoRoot };
    }
    if (await lstat(join(dir, ".git"))) {
      return { projectDir: start, dir, file, exists: false, repoRoot: dir };
    }
    if (dirname(dir) === dir) break;
  }
  return {
    projectDir: start,
    dir: start,
    file: join(start, PROJECT_FILE),
    exists: false,
  };
}

function checkOwner(file: string, info: Deno.FileInfo): void {
  const uid = Deno.uid();
  if (uid === null || info.uid === null || info.uid === uid || info.uid === 0) return;
  throw new ConfigError(
    { file },
    `belongs to another user (uid ${info.uid}) and is above the project directory: ` +
      `remove it, or put a ${PROJECT_FILE} of your own in the project`,
  );
}

async function lstat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    if (error instanceof Deno.errors.PermissionDenied) return undefined;
    throw error;
  }
}
