/**
 * An exclusive `flock` on a file, taken without waiting. The kernel drops it when its holder dies
 * however it dies, so "is the lock held" is a liveness fact that cannot go stale: a session's
 * owner holds one for its whole life (host/session/owner_lock.ts), a tap device's lease another
 * (host/net/tap_lease.ts).
 *
 * @module
 */

import { dirname } from "node:path";

/** A held lock. */
export interface FileLock {
  /** Release the lock (closing the file). Idempotent. */
  release(): void;
}

/**
 * Take the lock at `path` without waiting (creating the file and its directory, private to the
 * user); `undefined` when another process holds it.
 *
 * @example
 * ```ts
 * import { tryFileLock } from "./file_lock.ts";
 * const lock = await tryFileLock("/tmp/agentbox-example/owner.lock");
 * lock?.release();
 * ```
 */
export async function tryFileLock(path: string): Promise<FileLock | undefined> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let locked = false;
  try {
    locked = await file.tryLock(true);
  } finally {
    if (!locked) file.close();
  }
  if (!locked) return undefined;
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      file.close();
    },
  };
}

/**
 * Whether some process holds the lock at `path` (a missing file is not held). Checks by taking
 * and at once releasing it.
 *
 * @example
 * ```ts
 * import { fileLockHeld } from "./file_lock.ts";
 * console.assert(!(await fileLockHeld("/nonexistent/owner.lock")));
 * ```
 */
export async function fileLockHeld(path: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    const locked = await file.tryLock(true);
    return !locked;
  } finally {
    file.close();
  }
}

/** A held lock that `using` releases. */
export interface DisposableFileLock extends FileLock, Disposable {}

/**
 * Take the lock at `path`, waiting while another process holds it (creating the file and its
 * directory, private to the user). Released by `release()` or at the end of a `using` block.
 *
 * @example
 * ```ts
 * import { fileLock } from "./file_lock.ts";
 * using _lock = await fileLock("/tmp/agentbox-example/pack.lock");
 * ```
 */
export async function fileLock(path: string): Promise<DisposableFileLock> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  try {
    await file.lock(true);
  } catch (error) {
    file.close();
    throw error;
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    file.close();
  };
  return { release, [Symbol.dispose]: release };
}
