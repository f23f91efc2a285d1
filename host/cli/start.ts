/**
 * `agentbox start SESSION...`: boot stopped sessions again over their own disks (docker's
 * `start`). The core does it (`restartSession`, host/api/session_owner.ts); this parses and
 * reports.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { restartSession } from "../api/session_owner.ts";
import { printStarted } from "./detached_run.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox start`. */
export const START_HELP = `Start stopped sessions again.

Usage: agentbox start SESSION...

SESSION is a stopped (or dead) session's name, id or a unique prefix of an id. A new VM boots
with the session's image, shape, network policy and project, over the session's own workspace
disks: the files its commands wrote under /workspace are there again, as they were when it
stopped (also when its changes were applied to the project since: the session still sees its
own copy). What lived only in the VM's memory or outside /workspace (installed packages,
/tmp, running processes) is not: save a snapshot (\`agentbox snapshot save\`) to keep that. The
session's first command (\`run --detach -- CMD\`), if it had one, runs again. When it is
stopped next, its changes are collected afresh from the same disk, so \`diff\` and \`apply\`
show everything it changed since it was first started.

Options:
  -h, --help  show this help

Exit status: 0 every session was started, 125 usage error or unknown session, else the
status of the first failure (a session that is running is a usage error).`;

/**
 * Run `agentbox start ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { startCommand } from "./start.ts";
 * await startCommand(["web"]);
 * ```
 */
export async function startCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("start", args, {});
  if (values.help) {
    console.log(START_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("Name a session: usage is `agentbox start SESSION...`");
  }
  await using ctx = openContext();
  for (const ref of positionals) printStarted(await restartSession(ctx, ref));
  return 0;
}
