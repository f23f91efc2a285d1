/**
 * Directories never shared by default. `agentbox run` shares the directory it is started in; run
 * in `~`, `/tmp` or `/` that is a home with its `.ssh`, a world-writable scratch space with other
 * programs' files, or the whole machine — packed into the share cache (21 GB on a build machine).
 * Such a directory is shared only when named with `--share`.
 *
 * @module
 */

import { resolve } from "node:path";

/** System directories (and `/`) refused as an implicit share. */
const SYSTEM_DIRS = [
  "/",
  "/tmp",
  "/var/tmp",
  "/dev/shm",
  "/home",
  "/root",
  "/etc",
  "/usr",
  "/var",
  "/opt",
  "/srv",
  "/mnt",
  "/media",
  "/boot",
  "/proc",
  "/sys",
  "/dev",
  "/run",
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/Users",
];

/**
 * Why `dir` must not be shared without being named, or `undefined` when it may be: `/`, the
 * user's home, `/tmp` and the other system directories.
 *
 * @example
 * ```ts
 * import { implicitShareProblem } from "./share_guard.ts";
 * console.assert(implicitShareProblem("/home/me", "/home/me") === "your home directory");
 * console.assert(implicitShareProblem("/home/me/proj", "/home/me") === undefined);
 * ```
 */
export function implicitShareProblem(dir: string, home: string | undefined): string | undefined {
  const path = real(dir);
  if (home !== undefined && home !== "" && path === real(home)) return "your home directory";
  if (path === "/") return "the whole file system";
  if (SYSTEM_DIRS.includes(path)) return "a system directory";
  return undefined;
}

/** `path` with symlinks resolved when it exists (`/tmp` may be reached through a link). */
function real(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    return resolve(path);
  }
}
