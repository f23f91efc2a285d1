/**
 * A command in a running session, with the user's stdio attached: `exec --session` and `shell`.
 * Giving up (Ctrl-C three times, SIGTERM, SIGHUP) leaves the session, which kills the command
 * but never the session; `agentbox stop` ends that.
 *
 * @module
 */

import type { AgentClient } from "../channel/agent_client.ts";
import { connectSession, label, SessionError } from "../session/session_client.ts";
import { openDatabase } from "../store/database.ts";
import { type CommandHost, type CommandRequest, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import type { CommandIo } from "./attached_command.ts";
import { emitReport, execReport, type ReportTarget } from "./exec_report.ts";

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
  io: CommandIo | ((sessionId: string) => CommandIo),
  request: CommandRequest,
  report?: ReportTarget,
): Promise<number> {
  const started = performance.now();
  const db = openDatabase();
  let connected;
  try {
    connected = await connectSession(db, ref);
  } finally {
    db.close();
  }
  const { session, agent } = connected;
  const commandIo = typeof io === "function" ? io(session.id) : io;
  try {
    const commandStart = performance.now();
    const result = await runAttached(sessionHost(agent, label(session)), commandIo, request);
    const status = exitStatus(
      result,
      request.timeoutMs === undefined ? undefined : request.timeoutMs / 1000,
    );
    if (report) {
      const now = performance.now();
      await emitReport(
        report,
        execReport({
          session: session.id,
          exitCode: status,
          result,
          io: commandIo,
          warnings: [],
          timings: {
            commandMs: Math.round(now - commandStart),
            totalMs: Math.round(now - started),
          },
        }),
      );
    }
    return status;
  } finally {
    agent.close();
  }
}

function sessionHost(agent: AgentClient, name: string): CommandHost {
  return {
    exec: (request) => agent.exec(request),
    stop: () => Promise.resolve(agent.close()),
    stopMessage: (signal) => `${signal}: leaving session ${name} (it keeps running)`,
    explain: (error) =>
      Promise.resolve(
        new SessionError(
          `Lost session ${name} while the command ran (stopped, or its VM died): see ` +
            "`agentbox ps`",
          { cause: error, code: "session_unreachable" },
        ),
      ),
  };
}
