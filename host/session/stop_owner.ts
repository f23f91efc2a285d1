/**
 * Asking a session's owner to stop, and removing a session that has no owner any more.
 *
 * `stopOwner` signals the owner process — after checking that the recorded pid really is that
 * session's owner, since a pid can be reused — and waits until it released its lock: SIGTERM
 * makes it collect the workspace's changes and stop the VM; SIGKILL ends it at once (QEMU dies
 * with it; the upper disk stays for recovery, and the tap network it leaves is removed here). `removeSession` takes the owner lock itself, so it
 * never touches a session whose owner is alive, booting included.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type LifecycleRecord, markRemoved } from "../store/session_lifecycle.ts";
import { removeTapLeftovers } from "../net/tap_orphans.ts";
import { ownerLockHeld, tryOwnerLock } from "./owner_lock.ts";
import { sessionPaths } from "./session_paths.ts";

/**
 * Whether process `pid` is the owner of session `id` (its command line says so).
 *
 * @example
 * ```ts
 * import { isOwnerProcess } from "./stop_owner.ts";
 * console.assert(!isOwnerProcess(Deno.pid, "0f3c2a9e"));
 * ```
 */
export function isOwnerProcess(pid: number, id: string): boolean {
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    const at = argv.indexOf("session-daemon");
    return at >= 0 && argv[at + 1] === id;
  } catch {
    return false;
  }
}

/**
 * Signal the owner of `session` and wait up to `timeoutMs` for it to let go of its lock; resolves
 * with whether it did. A session without a live owner resolves true at once.
 *
 * @example
 * ```ts
 * import { stopOwner } from "./stop_owner.ts";
 * import type { LifecycleRecord } from "../store/session_lifecycle.ts";
 * declare const session: LifecycleRecord;
 * await stopOwner(session, { signal: "SIGTERM", timeoutMs: 300_000 });
 * ```
 */
export async function stopOwner(
  session: LifecycleRecord,
  options: { signal: "SIGTERM" | "SIGKILL"; timeoutMs: number },
): Promise<boolean> {
  const lock = sessionPaths(session.id).lock;
  if (!await ownerLockHeld(lock)) return true;
  if (session.ownerPid !== null && isOwnerProcess(session.ownerPid, session.id)) {
    try {
      Deno.kill(session.ownerPid, options.signal);
    } catch {
      // It ended meanwhile.
    }
  }
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (!await ownerLockHeld(lock)) {
      // A killed owner could not take its tap network down.
      await removeTapLeftovers(session.id);
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/**
 * Remove the files of `session` (state and runtime directories) and mark it removed, unless its
 * owner is alive; resolves with whether it was removed.
 *
 * @example
 * ```ts
 * import { removeSession } from "./stop_owner.ts";
 * import type { DatabaseSync } from "node:sqlite";
 * declare const db: DatabaseSync;
 * import type { LifecycleRecord } from "../store/session_lifecycle.ts";
 * declare const session: LifecycleRecord;
 * if (!await removeSession(db, session)) console.error("still running");
 * ```
 */
export async function removeSession(
  db: DatabaseSync,
  session: Pick<LifecycleRecord, "id">,
): Promise<boolean> {
  const paths = sessionPaths(session.id);
  const lock = await tryOwnerLock(paths.lock);
  if (!lock) return false;
  try {
    await Deno.remove(paths.state, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    markRemoved(db, session.id);
    await Deno.remove(paths.runtime, { recursive: true }).catch(() => {});
    return true;
  } finally {
    lock.release();
  }
}
