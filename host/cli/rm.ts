/**
 * `agentbox rm SESSION...`: delete stopped sessions' files (workspace, changes, logs) and take
 * them off the list. Their request log stays in the database.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { printEvent } from "./print_event.ts";
import { removeSessions } from "../api/sessions.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox rm`. */
export const RM_HELP = `Remove stopped sessions and their files.

Usage: agentbox rm [--force] SESSION...

SESSION is a session's name, id or a unique prefix of an id, or the id (or a unique prefix) of
a one-shot run (\`exec\`, \`run\` without --detach: \`agentbox ps -a\` lists them). Its
workspace, collected changes and logs are deleted, so \`agentbox diff\` and \`agentbox apply\`
no longer find it, and its name can be used again; its network log (\`agentbox requests\`) is
kept. A running session is refused
unless --force.

Options:
  --force         kill a running session's owner and VM first (its changes are not collected)
  -v, --verbose   print the causes of an error
  -h, --help      show this help

Exit status: 0 every session was removed, 1 some were running (and left alone), 125 usage
error or unknown session.`;

/**
 * Run `agentbox rm ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { rmCommand } from "./rm.ts";
 * await rmCommand(["web"]);
 * ```
 */
export async function rmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("rm", args, {
    force: { type: "boolean", short: "f" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(RM_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("Name a session: usage is `agentbox rm SESSION...`");
  }
  await using ctx = openContext({ onEvent: printEvent });
  const { removed, alive } = await removeSessions(ctx, positionals, { force: !!values.force });
  for (const name of removed) console.error(`agentbox: removed session ${name}`);
  for (const name of alive) {
    console.error(
      `agentbox: session ${name} is running: \`agentbox stop\` it first (or rm --force)`,
    );
  }
  return alive.length > 0 ? 1 : 0;
}
