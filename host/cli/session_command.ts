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
  const connection = await connectToSession(ref);
  const commandIo = typeof io === "function" ? io(connection.id) : io;
  try {
    const commandStart = performance.now();
    const result = await runAttached(sessionHost(connection), commandIo, request);
    const status = exitStatus(
      result,
      request.timeoutMs === undefined ? undefined : request.timeoutMs / 1000,
    );
    if (report) {
      const now = performance.now();
      await emitReport(
        report,
        execReport({
          session: connection.id,
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
