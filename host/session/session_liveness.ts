/**
 * A long-lived session's state as `ps` shows it: what its owner last recorded, corrected by what
 * can be observed now. An owner that recorded `booting`, `running` or `stopping` but no longer
 * holds its lock died without stopping (killed, or the host crashed): the session is `dead`, and
 * its workspace is still on disk for `agentbox diff` to recover.
 *
 * @module
 */

import type { LifecycleRecord, SessionStatus } from "../store/session_lifecycle.ts";
import { ownerLockHeld } from "./owner_lock.ts";
import { sessionPaths } from "./session_paths.ts";

/** A recorded status, or `dead` for an owner that is gone without having stopped. */
export type SessionState = SessionStatus | "dead";

/**
 * The observed state of `session`.
 *
 * @example
 * ```ts
 * import { observedState } from "./session_liveness.ts";
 * import { findLifecycle } from "../store/session_lifecycle.ts";
 * import type { DatabaseSync } from "node:sqlite";
 * declare const db: DatabaseSync;
 * console.log(await observedState(findLifecycle(db, "web")!)); // "running"
 * ```
 */
export async function observedState(session: LifecycleRecord): Promise<SessionState> {
  if (session.status === "stopped" || session.status === "failed") return session.status;
  return await ownerLockHeld(sessionPaths(session.id).lock) ? session.status : "dead";
}
