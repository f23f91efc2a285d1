/**
 * A command in a running session, with the user's stdio attached: `exec --session` and `shell`.
 * Giving up (Ctrl-C three times, SIGTERM, SIGHUP) leaves the session, which kills the command
 * but never the session; `agentbox stop` ends that.
 *
 * @module
 */

import { connectToSession, type SessionConnection } from "../api/session_connect.ts";
import { type CommandHost, type CommandRequest, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import type { CommandIo } from "./attached_command.ts";

/**
 * Run `request` in session `ref` through `io`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runInSession } from "./session_command.ts";
 * import { pipedIo } from "./piped_io.ts";
 * Deno.exit(await runInSession("web", pipedIo(), { argv: ["make", "test"] }));
 * ```
 */
export async function runInSession(
  ref: string,
  io: CommandIo,
  request: CommandRequest,
): Promise<number> {
  const connection = await connectToSession(ref);
  try {
    const result = await runAttached(sessionHost(connection), io, request);
    return exitStatus(
      result,
      request.timeoutMs === undefined ? undefined : request.timeoutMs / 1000,
    );
  } finally {
    connection.agent.close();
  }
}

function sessionHost({ agent, name, lost }: SessionConnection): CommandHost {
  return {
    exec: (request) => agent.exec(request),
    stop: () => Promise.resolve(agent.close()),
    stopMessage: (signal) => `${signal}: leaving session ${name} (it keeps running)`,
    explain: (error) => Promise.resolve(lost(error)),
  };
}
