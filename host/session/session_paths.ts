/**
 * Where a long-lived session keeps its files. Runtime files (control socket, owner lock, the plan
 * handed to the owner) live under `<runtime>/sessions/<key>/` (`runtimeDir()`: a private directory
 * no other user can make or write; `<key>`: 12 hex digits of the id's SHA-256, short enough for a
 * socket path); durable ones (the owner's log, the workspace with its upper disk and changeset)
 * under `$XDG_STATE_HOME/agentbox/sessions/<id>/`, where `agentbox diff` finds them after a crash.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { runtimeDir } from "../paths.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";

/** The files of one long-lived session. */
export interface SessionPaths {
  /** Runtime directory, removed when the owner ends. */
  runtime: string;
  /** Unix socket the owner serves the agent protocol on. */
  controlSocket: string;
  /** Held (flock) by the owner for its whole life, from before its session row exists. */
  lock: string;
  /** The plan `run --detach` hands to the owner; read and removed by the owner. */
  plan: string;
  /** Durable state directory (workspace, changeset). */
  state: string;
  /** The owner's stdout and stderr. */
  log: string;
  /** The output of the session's command (`run --detach -- CMD`), as its terminal showed it. */
  commandLog: string;
}

/**
 * The paths of session `id` under the current XDG directories.
 *
 * @example
 * ```ts
 * import { sessionPaths } from "./session_paths.ts";
 * console.log(sessionPaths("0f3c2a9e").controlSocket);
 * // e.g. /run/user/1000/agentbox/sessions/5d1f0c3e9a2b/ctl.sock
 * ```
 */
export function sessionPaths(id: string): SessionPaths {
  const state = sessionStateDir(id); // validates the id
  // A unix socket's path has at most 107 bytes: a short, fixed-length key instead of the id.
  const key = createHash("sha256").update(id).digest("hex").slice(0, 12);
  const runtime = `${runtimeDir()}/sessions/${key}`;
  return {
    runtime,
    controlSocket: `${runtime}/ctl.sock`,
    lock: `${runtime}/owner.lock`,
    plan: `${runtime}/plan.json`,
    state,
    log: `${state}/owner.log`,
    commandLog: `${state}/command.log`,
  };
}
