/**
 * `agentbox exec`: boot a VM, run one command in it, stream its output, exit with its status.
 *
 * @module
 */

import { resolve } from "node:path";
import { commandOutputDir } from "../api/captured_output.ts";
import type { CommandIo } from "./attached_command.ts";
import { capturedIo } from "./captured_io.ts";
import type { ReportTarget } from "./exec_report.ts";
import { EXEC_REPORT_VERSION } from "./report_versions.ts";
import { NET_HELP } from "./net_options.ts";
import { envOptions, parseCommandArgs, positiveInt, projectOption } from "./options.ts";
import { pipedIo } from "./piped_io.ts";
import { checkTty, SANDBOX_HELP, SANDBOX_OPTIONS } from "./sandbox_options.ts";
import { UsageError } from "./errors.ts";
import { SHARE_HELP } from "./share_options.ts";
import { runInSession } from "./session_command.ts";

/** Help text of `agentbox exec`. */
export const EXEC_HELP = `Run a command in a fresh microVM and exit with its status.

Usage: agentbox exec [OPTIONS] -- CMD [ARG...]
       agentbox exec --session SESSION [-e K=V]... [-w DIR] [--timeout SEC] [-i|-t]
                     [--json | --report FILE] -- CMD [ARG...]

Options:
${SANDBOX_HELP}
${SHARE_HELP}
${NET_HELP}
  --session SESSION run CMD in a running session (\`agentbox run --detach\`), a name or an id,
                    instead of a fresh microVM: only -e, --env-file, -w, -i, -t, --timeout,
                    --json and --report apply
  --json            print one JSON report on stdout (exit code, changes, network, timings); the
                    command's stdout and stderr are written to files the report names, so
                    stdout holds the report alone and stderr only agentbox's own lines
  --report FILE     write the same report to FILE; the command's stdout and stderr pass
                    through untouched (fields: docs/cli.md, schema: docs/schemas/)
  -v, --verbose     print the causes of an error
  -q, --quiet       print only errors and what was asked for (no warnings or summaries)
  -h, --help        show this help

Options stop at CMD: put \`--\` before it (\`agentbox exec -e A=1 -- ls -la\`) so that its own
options are never taken as agentbox's.

Every connection leaves through agentbox's proxy and is recorded (\`agentbox requests\`); the
policy comes from ~/.config/agentbox/config.toml and the project's .agentbox.toml, found from the
shared directory (else the current one) up to the repository root; \`agentbox config\` shows it
(docs/configuration.md). On a terminal, graylisted hosts are asked about; otherwise they are
refused.

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
    report: { type: "string" },
    session: { type: "string" },
  }, { guestCommand: true });
  if (values.help) {
    console.log(EXEC_HELP);
    return 0;
  }
  if (positionals.length === 0) {
    throw new UsageError("No command given: usage is `agentbox exec [OPTIONS] -- CMD [ARG...]`");
  }
  const report = reportTarget(values);
  if (values.session !== undefined) return await execInSession(values, positionals, report);
  const json = report !== undefined;
  const interactive = !json && Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  const { sandboxPlan } = await import("./sandbox_plan.ts");
  const plan = await sandboxPlan("exec", values, positionals, {
    interactive,
    json,
    cwd: Deno.cwd(),
  });
  // A --share that is no directory is refused before anything starts.
  if (plan.spec.share !== undefined) await projectOption("exec", plan.spec.share);
  const io = await commandIo(values);
  return await reportingFailure(report, async () => {
    // A running `agentbox serve` starts the sandbox, from its warm pool when a VM fits.
    const { execThroughServer, servable } = await import("./served_exec.ts");
    if (servable(plan)) {
      const status = await execThroughServer(plan, io, report);
      if (status !== undefined) return status;
    }
    // Loaded here, not at the top: `exec --session` needs none of it (it starts ~2× faster).
    const { runOneShot } = await import("./one_shot.ts");
    return await runOneShot(plan, io, report);
  });
}

/**
 * How the command's stdio is wired: `--json` captures it to files (named in the report), `-t`
 * gives it the user's terminal (loaded only then), else pipes (`-i` forwards a terminal's input).
 */
async function commandIo(
  values: Record<string, unknown>,
): Promise<CommandIo | ((sessionId: string) => CommandIo)> {
  if (values.tty) {
    if (values.json) throw new UsageError("-t/--tty and --json cannot be used together");
    checkTty(values, Deno.stdin.isTerminal());
    return (await import("./terminal_io.ts")).terminalIo();
  }
  if (values.json) return (id: string) => capturedIo(commandOutputDir(id));
  return pipedIo({ forwardStdin: !!values.interactive });
}

/**
 * Run `work`; when it fails and the report goes to a file, the file gets the error
 * (`{"version":1,"error":{kind,code,message}}`, as `--json` prints it) before the error goes on to
 * the usual one-line message and exit status.
 */
async function reportingFailure(
  report: ReportTarget | undefined,
  work: () => Promise<number>,
): Promise<number> {
  try {
    return await work();
  } catch (error) {
    if (report !== undefined && report !== "stdout") {
      const { emitReport } = await import("./exec_report.ts");
      const { asAgentboxError } = await import("../api/errors.ts");
      const typed = asAgentboxError(error);
      await emitReport(report, {
        version: EXEC_REPORT_VERSION,
        error: { kind: typed.kind, code: typed.code, message: typed.message },
      }).catch(() => {});
    }
    throw error;
  }
}

/** Where the report goes: stdout with `--json`, a file with `--report FILE`, else nowhere. */
function reportTarget(values: Record<string, unknown>): ReportTarget | undefined {
  if (values.json && values.report !== undefined) {
    throw new UsageError(
      "--json and --report cannot be used together: choose where the report goes",
    );
  }
  if (values.json) return "stdout";
  if (values.report === undefined) return undefined;
  const file = String(values.report);
  if (file === "") throw new UsageError("--report needs a file name");
  return { file: resolve(Deno.cwd(), file) };
}

/** Options that set up a VM, which a running session already has. */
const VM_ONLY = Object.keys(SANDBOX_OPTIONS).filter((k) =>
  !["env", "env-file", "workdir", "timeout", "interactive", "tty"].includes(k)
);

async function execInSession(
  values: Record<string, unknown>,
  positionals: string[],
  report: ReportTarget | undefined,
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
  const io = await commandIo(values);
  return await reportingFailure(report, () =>
    runInSession(values.session as string, io, {
      argv: positionals,
      env: envOptions("exec", values),
      cwd: values.workdir as string | undefined,
      timeoutMs: timeoutSec === undefined ? undefined : timeoutSec * 1000,
    }, report));
}
