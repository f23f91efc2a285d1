/**
 * A connection to a running session's agent, for running commands in it (`exec --session`,
 * `shell`, later a server's exec). Kept apart from api/sessions.ts so that this hot path loads
 * only what it needs.
 *
 * @module
 */

import { AgentClient } from "../channel/agent_client.ts";
import { connectSession, label, SessionError } from "../session/session_client.ts";
import { openDatabase } from "../store/database.ts";
import type { AgentboxError } from "./errors.ts";

/** A running session's agent, connected. */
export interface SessionConnection {
  agent: AgentClient;
  /** The session's id. */
  id: string;
  /** How the session is named to people. */
  name: string;
  /** The error to report when the connection is lost while a command runs. */
  lost(cause: unknown): AgentboxError;
}

/**
 * Connect to running session `ref` (a name, an id or a unique prefix of one). Throws
 * `SessionError` (`session_unknown`, `session_not_running`, `session_unreachable`).
 *
 * @example
 * ```ts
 * import { connectToSession } from "./session_connect.ts";
 * const { agent } = await connectToSession("web");
 * try {
 *   console.log((await agent.exec({ argv: ["true"] }).result).code);
 * } finally {
 *   agent.close();
 * }
 * ```
 */
export async function connectToSession(ref: string): Promise<SessionConnection> {
  const db = openDatabase();
  let connected;
  try {
    connected = await connectSession(db, ref);
  } finally {
    db.close();
  }
  const name = label(connected.session);
  return {
    agent: connected.agent,
    id: connected.session.id,
    name,
    lost: (cause) =>
      new SessionError(
        `Lost session ${name} while the command ran (stopped, or its VM died): see ` +
          "`agentbox ps`",
        { cause, code: "session_unreachable" },
      ),
  };
}

/**
 * Connect to the control socket at `path` (a one-shot sandbox a server runs for this client:
 * served_exec.ts). Throws what connecting threw, and `AgentError` when nothing greets.
 *
 * @example
 * ```ts ignore
 * import { connectControlSocket } from "./session_connect.ts";
 * const agent = await connectControlSocket("/run/user/1000/agentbox/sessions/5d1f0c3e9a2b/ctl.sock");
 * agent.close();
 * ```
 */
export async function connectControlSocket(path: string): Promise<AgentClient> {
  return await AgentClient.connect(await Deno.connect({ transport: "unix", path }));
}
