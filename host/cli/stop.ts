/**
 * `agentbox stop SESSION...`: ask each session's owner to collect the workspace's changes and
 * stop the VM, and wait until it has.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { stopSessions } from "../api/sessions.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";

/** Help text of `agentbox stop`. */
export const STOP_HELP = `Stop running sessions, keeping their changes.

Usage: agentbox stop [--time SEC] [--timeout SEC] [--kill] SESSION...

SESSION is a session's name, id or a unique prefix of an id. The session's owner sends SIGTERM
to every command in the session (the command of \`run --detach\`, every shell and \`exec\`),
gives them --time seconds to end, sends SIGKILL to what is left, then collects what changed in
its shared directory (for \`agentbox diff\` and \`agentbox apply\`) and stops the VM. The session
stays listed as stopped until \`agentbox rm\` or \`agentbox prune\`.

Options:
  -t, --time SEC time the commands get between SIGTERM and SIGKILL (default 10, 0 to kill them
                 at once; as \`docker stop --time\`)
  --timeout SEC  wait at most SEC seconds for each session beyond --time (default 300), then
                 give up
  --kill         end the owner at once (SIGKILL): nothing is collected, but the changes stay
                 on disk for \`agentbox diff SESSION\` to recover
  -v, --verbose  print the causes of an error
  -h, --help     show this help

Exit status: 0 every session is stopped (or was), 1 some did not stop in time, 125 usage error
or unknown session.`;

/**
 * Run `agentbox stop ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { stopCommand } from "./stop.ts";
 * await stopCommand(["web"]);
 * ```
 */
export async function stopCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("stop", args, {
    time: { type: "string", short: "t" },
    timeout: { type: "string" },
    kill: { type: "boolean" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(STOP_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("Name a session: usage is `agentbox stop SESSION...`");
  }
  const timeoutMs = positiveInt("stop", "timeout", values.timeout, 300, 24 * 3600) * 1000;
  if (values.kill && values.time !== undefined) {
    throw new UsageError("--time does not go with --kill: --kill ends the session at once");
  }
  const graceMs = positiveInt("stop", "time", values.time, 10, 3600, 0) * 1000;
  await using ctx = openContext();
  const outcomes = await stopSessions(ctx, positionals, {
    kill: !!values.kill,
    timeoutMs,
    graceMs,
  });
  let status = 0;
  for (const { session, outcome, before, detail } of outcomes) {
    if (outcome === "already") {
      console.error(`agentbox: session ${session} is already ${before}`);
    } else if (outcome === "timeout") {
      console.error(`agentbox: session ${session} did not stop within ${timeoutMs / 1000} s`);
      status = 1;
    } else {
      // The detail is the owner's last error, which can quote what the guest said.
      const why = detail ? `: ${escapeControls(detail)}` : "";
      // Only --kill kills; a session that died some other way is not said to be killed.
      const said = outcome === "dead"
        ? (values.kill ? "killed" : "ended without stopping")
        : outcome;
      console.error(
        `agentbox: session ${session} ${said}${why}` +
          (outcome === "stopped" && !detail ? `; its changes: \`agentbox diff ${session}\`` : ""),
      );
    }
  }
  return status;
}
