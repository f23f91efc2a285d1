/**
 * The lock a session's owner holds for its whole life: an exclusive `flock` on
 * `<runtime>/sessions/<id>/owner.lock` (host/file_lock.ts). The kernel drops it when the owner
 * dies however it dies, so "is the lock held" is the one liveness fact that cannot go stale.
 * `prune`, `rm` and crash recovery take the lock themselves before they touch a session's files,
 * so they never race an owner that is still booting, nor each other.
 *
 * @example
 * ```ts
 * import { ownerLockHeld, tryOwnerLock } from "./owner_lock.ts";
 * const lock = await tryOwnerLock("/tmp/agentbox-example/sessions/x/owner.lock");
 * console.assert(await ownerLockHeld("/tmp/agentbox-example/sessions/x/owner.lock") === !!lock);
 * lock?.release();
 * ```
 *
 * @module
 */

export {
  type FileLock as OwnerLock,
  fileLockHeld as ownerLockHeld,
  tryFileLock as tryOwnerLock,
} from "../file_lock.ts";
