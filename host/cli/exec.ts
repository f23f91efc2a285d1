/**
 * `agentbox exec`: boot a VM, run one command in it, stream its output, exit with its status.
 *
 * @module
 */

import { NET_HELP } from "./net_options.ts";
import { envOptions, parseCommandArgs, positiveInt, projectOption } from "./options.ts";
import type { CommandIo } from "./attached_command.ts";
import { pipedIo } from "./piped_io.ts";
import { checkTty, SANDBOX_HELP, SANDBOX_OPTIONS } from "./sandbox_options.ts";
import { UsageError } from "./errors.ts";
import { SHARE_HELP } from "./workspace_options.ts";
import { runInSession } from "./session_command.ts";

/** Help text of `agentbox exec`. */
export const EXEC_HELP = `Run a command in a fresh microVM and exit with its status.

Usage: agentbox exec [OPTIONS] -- CMD [ARG...]
       agentbox exec --session SESSION [-e K=V]... [-w DIR] [--timeout SEC] [-i|-t] -- CMD [ARG...]

Options:
${SANDBOX_HELP}
${SHARE_HELP}
${NET_HELP}
  --session SESSION run CMD in a running session (\`agentbox run --detach\`), a name or an id,
                    instead of a fresh microVM: only -e, --env-file, -w, -i, -t and --timeout apply
  --json            print one JSON report on stdout (exit code, changes, network, timings); the
                    command's stdout then goes to stderr
  -v, --verbose     print the causes of an error
  -q, --quiet       print only errors and what was asked for (no warnings or summaries)
  -h, --help        show this help

Options stop at CMD: put \`--\` before it (\`agentbox exec -e A=1 -- ls -la\`) so that its own
options are never taken as agentbox's.

Every connection leaves through agentbox's proxy and is recorded (\`agentbox requests\`); the policy
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
    session: { type: "string" },
  }, { guestCommand: true });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("No command given: usage is `agentbox exec [OPTIONS] -- CMD [ARG...]`");
  }
  if (values.session !== undefined) return await execInSession(values, positionals);
  const json = !!values.json;
  const interactive = !json && Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  const { sandboxPlan } = await import("./sandbox_plan.ts");
  const plan = sandboxPlan("exec", values, positionals, { interactive, json, cwd: Deno.cwd() });
  // A --share that is no directory is refused before anything starts.
  if (plan.spec.share !== undefined) await projectOption("exec", plan.spec.share);
  // Loaded here, not at the top: `exec --session` needs none of it (it starts ~2× faster).
  const { runOneShot } = await import("./one_shot.ts");
  return await runOneShot(plan, await commandIo(values, json));
}

/** `-t`: the user's terminal (loaded only then); else pipes (`-i` forwards a terminal's input). */
async function commandIo(values: Record<string, unknown>, json = false): Promise<CommandIo> {
  if (values.tty) {
    if (json) throw new UsageError("-t/--tty and --json cannot be used together");
    checkTty(values, Deno.stdin.isTerminal());
    return (await import("./terminal_io.ts")).terminalIo();
  }
  return pipedIo({ stdoutToStderr: json, forwardStdin: !!values.interactive });
}

/** Options that set up a VM, which a running session already has. */
const VM_ONLY = Object.keys(SANDBOX_OPTIONS).filter((k) =>
  !["env", "env-file", "workdir", "timeout", "interactive", "tty"].includes(k)
).concat(["json"]);

async function execInSession(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  const extra = VM_ONLY.find((k) => values[k] !== undefined);
  if (extra) {
    throw new UsageError(
      `--${extra} cannot be used with --session: the session's VM is already set up`,
    );
  }
  const timeoutSec = values.timeout === undefined
    ? undefined
    : positiveInt("exec", "timeout", values.timeout, 0, 7 * 24 * 3600);
  return await runInSession(values.session as string, await commandIo(values), {
    argv: positionals,
    env: envOptions("exec", values),
    cwd: values.workdir as string | undefined,
    timeoutMs: timeoutSec === undefined ? undefined : timeoutSec * 1000,
  });
}
