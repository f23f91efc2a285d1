/**
 * `agentbox stop SESSION...`: ask each session's owner to collect the workspace's changes and
 * stop the VM, and wait until it has.
 *
 * @module
 */

import { label, resolveSession } from "../session/session_client.ts";
import { observedState } from "../session/session_liveness.ts";
import { stopOwner } from "../session/stop_owner.ts";
import { openDatabase } from "../store/database.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";

/** Help text of `agentbox stop`. */
export const STOP_HELP = `Stop running sessions, keeping their changes.

Usage: agentbox stop [--timeout SEC] [--kill] SESSION...

SESSION is a session's name, id or a unique prefix of an id. The session's owner collects what
changed in its shared directory (for \`agentbox diff\` and \`agentbox apply\`), then stops the
VM; every shell and command still in the session ends with it. The session stays listed as
stopped until \`agentbox rm\` or \`agentbox prune\`.

Options:
  --timeout SEC  wait at most SEC seconds for each session (default 300), then give up
  --kill         end the owner at once (SIGKILL): nothing is collected, but the changes stay
                 on disk for \`agentbox diff SESSION\` to recover
  --verbose      print the causes of an error
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
  const db = openDatabase();
  try {
    const sessions = positionals.map((ref) => resolveSession(db, ref));
    let status = 0;
    for (const session of sessions) {
      const name = label(session);
      const before = await observedState(session);
      if (before === "stopped" || before === "failed" || before === "dead") {
        console.error(`agentbox: session ${name} is already ${before}`);
        continue;
      }
      const signal = values.kill ? "SIGKILL" : "SIGTERM";
      if (!await stopOwner(session, { signal, timeoutMs })) {
        console.error(`agentbox: session ${name} did not stop within ${timeoutMs / 1000} s`);
        status = 1;
        continue;
      }
      const after = findLifecycle(db, session.id);
      const state = after ? await observedState(after) : "stopped";
      const detail = after?.detail ? `: ${after.detail}` : "";
      console.error(
        `agentbox: session ${name} ${state === "dead" ? "killed" : state}${detail}` +
          (state === "stopped" && !detail ? `; its changes: \`agentbox diff ${name}\`` : ""),
      );
    }
    return status;
  } finally {
    db.close();
  }
}
