/**
 * `agentbox run`: the interactive form of `exec`. The current directory is shared by default, and
 * when stdin is a terminal the command (a login shell unless one is given) runs on a terminal in
 * the guest, with this terminal raw and wired to it.
 *
 * @module
 */

import { runDetached } from "./detached_run.ts";
import { UsageError } from "./errors.ts";
import { NET_HELP } from "./net_options.ts";
import { parseCommandArgs, projectOption } from "./options.ts";
import { pipedIo } from "./piped_io.ts";
import { runOneShot } from "./one_shot.ts";
import { checkTty, SANDBOX_HELP, SANDBOX_OPTIONS } from "./sandbox_options.ts";
import { sandboxPlan } from "./sandbox_plan.ts";
import { terminalIo } from "./terminal_io.ts";
import { SYSTEM_DIFF_HELP } from "./share_options.ts";

/** What runs when no command is given: the guest's login shell. */
export const DEFAULT_COMMAND: readonly string[] = ["/bin/sh", "-l"];

/** Help text of `agentbox run`. */
export const RUN_HELP = `Run a command, or a shell, interactively in a fresh microVM.

Usage: agentbox run [OPTIONS] [-- CMD [ARG...]]
       agentbox run --detach [--name NAME] [OPTIONS] [-- CMD [ARG...]]

Without CMD, runs a login shell. The current directory is shared at /workspace (the command's
working directory); what the command changes there is kept aside for review, never written to
the directory directly.

With --detach, run starts a session that outlives it, prints the session's id and returns once
the VM is up. Work in it with \`agentbox shell\` and \`agentbox exec --session\`; end it with
\`agentbox stop\`, which keeps its changes for \`agentbox diff\` and \`agentbox apply\`. A CMD
runs in the background on a terminal in the guest: \`agentbox attach\` connects to it,
\`agentbox logs\` shows its output.

Options:
  -d, --detach      start a long-lived session in the background (see above)
  --name NAME       name the detached session (a letter, then letters, digits, _ . -)
  --approval-timeout SEC
                    how long a detached session holds a connection to a graylisted host
                    waiting for \`agentbox approve\` (default 30; 0 refuses them at once)
  -p, --publish [HOST_ADDR:]HOST_PORT:GUEST_PORT
                    forward connections to HOST_PORT on the host (127.0.0.1 unless HOST_ADDR
                    names another address; 0: any free port) to GUEST_PORT on the guest's
                    loopback, for the sandbox's life; repeatable (\`agentbox port\` adds more)
${SANDBOX_HELP}
  --share DIR       share DIR instead of the current directory (/, ~, /tmp and other system
                    directories are shared only when named here)
  --no-share        share nothing
  --apply           apply the changes to the shared directory when the command ends
  --discard         throw the changes away when the command ends
${SYSTEM_DIFF_HELP}
${NET_HELP}
  -v, --verbose     print the causes of an error
  -q, --quiet       print only errors and what was asked for (no warnings or summaries)
  -h, --help        show this help

Options stop at CMD: put \`--\` before it (\`agentbox run -- make -j4\`) so that its own
options are never taken as agentbox's.

When stdin is a terminal, the command gets a terminal of the same size and type in the guest,
and this one is switched to raw mode: every key goes to the guest, where Ctrl-C, Ctrl-Z and
Ctrl-D act as in a local shell; resizing the window resizes the guest's terminal. The terminal's
settings are restored when agentbox ends, however it ends; if agentbox is killed with SIGKILL, a
small guardian process restores them (type \`reset\` if the screen still looks wrong). Without a
terminal, run behaves like exec: stdin is forwarded and Ctrl-C is forwarded to the command.

While a terminal session runs, graylisted hosts cannot be asked about (the keyboard belongs to
the guest): they are refused and listed at the end. A detached session asks instead: a
connection to a graylisted host waits (--approval-timeout) for \`agentbox approvals\` and
\`agentbox approve ID once|session|always|deny\`. Then run shows the workspace's changes and,
on a terminal, asks whether to apply them.

Exit status: the command's, 128+N if signal N ended it, 124 timeout, 125 usage error, 126 VM or
image failure, 127 command not found.`;

/**
 * Run `agentbox run ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runCommand } from "./run.ts";
 * Deno.exit(await runCommand(["--no-share", "--", "top"]));
 * ```
 */
export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("run", args, {
    ...SANDBOX_OPTIONS,
    "no-share": { type: "boolean" },
    detach: { type: "boolean", short: "d" },
    name: { type: "string" },
    "approval-timeout": { type: "string" },
    publish: { type: "string", short: "p", multiple: true },
  }, { guestCommand: true });
  if (values.help) {
    console.log(RUN_HELP);
    return 0;
  }
  if (values["no-share"] && values.share !== undefined) {
    throw new UsageError("--share and --no-share cannot be used together");
  }
  if (values.detach) return await runDetached(values, positionals);
  if (values.name !== undefined) {
    throw new UsageError("--name names a detached session: use it with --detach");
  }
  if (values["approval-timeout"] !== undefined) {
    throw new UsageError(
      "--approval-timeout is for a detached session (a terminal run asks on the terminal): " +
        "use it with --detach",
    );
  }
  const onTerminal = Deno.stdin.isTerminal();
  checkTty(values, onTerminal);
  const interactive = onTerminal && Deno.stderr.isTerminal();
  const plan = await sandboxPlan(
    "run",
    values,
    positionals.length > 0 ? positionals : [...DEFAULT_COMMAND],
    {
      interactive,
      cwd: Deno.cwd(),
      share: values["no-share"] ? undefined : Deno.cwd(),
      // On a terminal the keys belong to the guest; without one nobody can answer.
      prompts: false,
    },
  );
  if (plan.spec.share !== undefined) await projectOption("run", plan.spec.share);
  return await runOneShot(plan, onTerminal ? terminalIo() : pipedIo());
}
