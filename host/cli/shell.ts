/**
 * `agentbox shell SESSION`: a login shell in a running session, on a terminal when stdin is one.
 * Any number of shells (and `exec --session` commands) can be in one session at once.
 *
 * @module
 */

import { envOptions, parseCommandArgs } from "./options.ts";
import { UsageError } from "./errors.ts";
import { pipedIo } from "./piped_io.ts";
import { DEFAULT_COMMAND } from "./run.ts";
import { runInSession } from "./session_command.ts";
import { terminalIo } from "./terminal_io.ts";

/** Help text of `agentbox shell`. */
export const SHELL_HELP = `Open a login shell in a running session.

Usage: agentbox shell SESSION [-e K=V]... [-w DIR]

SESSION is a session's name, id or a unique prefix of an id (\`agentbox ps\` lists them). The
shell starts in /workspace when the session shares a directory. Several shells can be open in
one session at once; leaving one (exit, Ctrl-D) leaves the session running: \`agentbox stop\`
ends it.

Options:
  -e, --env K=V     set an environment variable in the shell; K alone passes the host's value
  --env-file FILE   read NAME=VALUE lines (or NAME alone) from FILE, as docker does; -e wins
  -w, --workdir DIR working directory inside the guest
  -v, --verbose     print the causes of an error
  -h, --help        show this help

When stdin is a terminal, the shell gets a terminal of the same size and type in the guest and
this one goes raw, as with \`agentbox run\`. Without one, stdin is forwarded and Ctrl-C is
forwarded to the shell; press it three times to leave. Exit status: the shell's, 125 usage
error or unknown session, 126 when the session is not running or was lost.`;

/**
 * Run `agentbox shell ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { shellCommand } from "./shell.ts";
 * Deno.exit(await shellCommand(["web"]));
 * ```
 */
export async function shellCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("shell", args, {
    env: { type: "string", multiple: true, short: "e" },
    "env-file": { type: "string", multiple: true },
    workdir: { type: "string", short: "w" },
  });
  if (values.help) {
    console.log(SHELL_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Name one session: usage is `agentbox shell SESSION`");
  }
  const onTerminal = Deno.stdin.isTerminal();
  return await runInSession(positionals[0], onTerminal ? terminalIo() : pipedIo(), {
    argv: [...DEFAULT_COMMAND],
    env: envOptions("shell", values),
    cwd: values.workdir as string | undefined,
  });
}
