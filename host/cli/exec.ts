/**
 * `agentbox exec`: boot a VM, run one command in it, stream its output, exit with its status.
 *
 * @module
 */

import { NET_HELP } from "./net_options.ts";
import { parseCommandArgs } from "./options.ts";
import { pipedIo } from "./piped_io.ts";
import { runSandbox, SANDBOX_HELP, SANDBOX_OPTIONS, sandboxPlan } from "./sandbox.ts";
import { UsageError } from "./errors.ts";
import { SHARE_HELP } from "./workspace_options.ts";

/** Help text of `agentbox exec`. */
export const EXEC_HELP = `Run a command in a fresh microVM and exit with its status.

Usage: agentbox exec [OPTIONS] -- CMD [ARG...]

Options:
${SANDBOX_HELP}
${SHARE_HELP}
${NET_HELP}
  --json            print one JSON report on stdout (exit code, changes, network, timings); the
                    command's stdout then goes to stderr
  --verbose         print the causes of an error
  -h, --help        show this help

Every connection leaves through agentbox's proxy and is recorded (\`agentbox logs\`); the policy
comes from ~/.config/agentbox/config.toml and ./.agentbox.toml (docs/configuration.md). On a
terminal, graylisted hosts are asked about; otherwise they are refused.

With --share, exec ends with a summary of the changes and the session id; on a terminal it asks
whether to apply them, otherwise it keeps them for \`agentbox diff\` and \`agentbox apply\`.

Stdin is forwarded when it is not a terminal. Ctrl-C is forwarded to the command; press it three
times to stop the VM. Exit status: the command's, 128+N if signal N ended it, 124 timeout,
125 usage error, 126 VM or image failure, 127 command not found.`;

/** Run `agentbox exec ARGS`; returns the exit status. */
export async function execCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("exec", args, {
    ...SANDBOX_OPTIONS,
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("No command given: usage is `agentbox exec [OPTIONS] -- CMD [ARG...]`");
  }
  const json = !!values.json;
  const interactive = !json && Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  const plan = sandboxPlan("exec", values, positionals, { interactive, json });
  return await runSandbox(plan, pipedIo({ stdoutToStderr: json }));
}
