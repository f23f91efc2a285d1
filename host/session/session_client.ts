/**
 * Reaching a running session from another agentbox process: find it by name or id, check that its
 * owner is alive (its lock, not the database's word), and connect an {@linkcode AgentClient} to
 * its control socket.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import type { DatabaseSync } from "node:sqlite";
import { AgentClient } from "../channel/agent_client.ts";
import { findLifecycle, type LifecycleRecord } from "../store/session_lifecycle.ts";
import { observedState } from "./session_liveness.ts";
import { sessionPaths } from "./session_paths.ts";

/** A session is unknown or not in a state to do what was asked. The message says what to do. */
export class SessionError extends AgentboxError {
  /**
   * `code`: `session_unknown` (no single session matches: kind `not_found`), `session_not_running`
   * (kind `state`), `session_alive` (kind `state`), `session_unreachable` (kind `unavailable`).
   */
  constructor(
    message: string,
    options: ErrorOptions & {
      code: "session_unknown" | "session_not_running" | "session_alive" | "session_unreachable";
    },
  ) {
    super(message, { ...options, kind: SESSION_ERROR_KINDS[options.code] });
    this.name = "SessionError";
  }
}

const SESSION_ERROR_KINDS = {
  session_unknown: "not_found",
  session_not_running: "state",
  session_alive: "state",
  session_unreachable: "unavailable",
} as const;

/**
 * The long-lived session `ref` names (a name, an id or a unique prefix of one).
 * Throws {@linkcode SessionError} (`unknown`) when none or several match.
 *
 * @example
 * ```ts
 * import { resolveSession } from "./session_client.ts";
 * import type { DatabaseSync } from "node:sqlite";
 * declare const db: DatabaseSync;
 * console.log(resolveSession(db, "web").id);
 * ```
 */
export function resolveSession(db: DatabaseSync, ref: string): LifecycleRecord {
  const session = findLifecycle(db, ref);
  if (!session) {
    throw new SessionError(
      `No single session is named or matches ${JSON.stringify(ref.slice(0, 80))}: ` +
        "see `agentbox ps`",
      { code: "session_unknown" },
    );
  }
  return session;
}

/**
 * Connect to the running session `ref`. Throws {@linkcode SessionError} when it is not running.
 *
 * @example
 * ```ts
 * import { connectSession } from "./session_client.ts";
 * import type { DatabaseSync } from "node:sqlite";
 * declare const db: DatabaseSync;
 * const { agent } = await connectSession(db, "web");
 * const run = agent.exec({ argv: ["ls"] });
 * ```
 */
export async function connectSession(
  db: DatabaseSync,
  ref: string,
): Promise<{ session: LifecycleRecord; agent: AgentClient }> {
  const session = resolveSession(db, ref);
  // Recorded as running: connect at once. Only a live owner listens on the control socket (a dead
  // one's refuses), so its lock is read only to explain a failure — one file open and lock probe
  // less on the path of every `exec --session`.
  if (session.status !== "running") await checkRunning(session);
  const path = sessionPaths(session.id).controlSocket;
  try {
    const socket = await Deno.connect({ transport: "unix", path });
    return { session, agent: await AgentClient.connect(socket) };
  } catch (cause) {
    await checkRunning(session);
    throw new SessionError(`Cannot reach session ${label(session)}`, {
      cause,
      code: "session_unreachable",
    });
  }
}

/** Throw `session_not_running` unless `session` is observed running. */
async function checkRunning(session: LifecycleRecord): Promise<void> {
  const state = await observedState(session);
  if (state === "running") return;
  const hint = state === "booting"
    ? "wait until it is running"
    : "start a new one with `agentbox run --detach`";
  throw new SessionError(`Session ${label(session)} is ${state}: ${hint}`, {
    code: "session_not_running",
  });
}

/**
 * How a session is named to the user: its name, else the first 8 characters of its id.
 *
 * @example
 * ```ts
 * import { label } from "./session_client.ts";
 * console.assert(label({ id: "0f3c2a9e-1234", name: null }) === "0f3c2a9e");
 * ```
 */
export function label(session: Pick<LifecycleRecord, "id" | "name">): string {
  return session.name ?? session.id.slice(0, 8);
}
