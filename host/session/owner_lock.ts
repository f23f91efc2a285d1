/**
 * The lock a session's owner holds for its whole life: an exclusive `flock` on
 * `<runtime>/sessions/<id>/owner.lock`. The kernel drops it when the owner dies however it dies,
 * so "is the lock held" is the one liveness fact that cannot go stale. `prune`, `rm` and crash
 * recovery take the lock themselves before they touch a session's files, so they never race an
 * owner that is still booting, nor each other.
 *
 * @module
 */

import { dirname } from "node:path";

/** A held owner lock. */
export interface OwnerLock {
  /** Release the lock (closing the file). Idempotent. */
  release(): void;
}

/**
 * Take the lock at `path` without waiting; `undefined` when another process holds it.
 *
 * @example
 * ```ts
 * import { tryOwnerLock } from "./owner_lock.ts";
 * const lock = await tryOwnerLock("/tmp/agentbox-example/owner.lock");
 * lock?.release();
 * ```
 */
export async function tryOwnerLock(path: string): Promise<OwnerLock | undefined> {
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
 * import { ownerLockHeld } from "./owner_lock.ts";
 * console.assert(!(await ownerLockHeld("/nonexistent/owner.lock")));
 * ```
 */
export async function ownerLockHeld(path: string): Promise<boolean> {
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
