/**
 * `agentbox exec` and `agentbox run` on a fresh VM: hand the plan's spec to the core's one-shot
 * lifecycle (host/api/sandbox.ts `runSandbox`), wire the command's stdio through a
 * {@linkcode CommandIo} (pipes, or the user's terminal), then render what came back: the network's
 * summary, the workspace's changes (and apply, discard or ask), or one JSON report.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { runSandbox, type Sandbox } from "../api/sandbox.ts";
import { renderJson } from "../api/change_text.ts";
import { systemDiff } from "../api/system_changes.ts";
import { renderSystemJson } from "./system_diff.ts";
import { type CommandHost, type CommandIo, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import { emitReport, execReport, type ReportTarget } from "./exec_report.ts";
import { interactiveAsker, learnConfirmer, printNetworkReport } from "./net_options.ts";
import { output } from "./output_settings.ts";
import { printEvent } from "./print_event.ts";
import { EXEC_REPORT_VERSION } from "./report_versions.ts";
import type { SandboxPlan } from "./sandbox_plan.ts";
import { finishWorkspace } from "./workspace_options.ts";
import { ProgressLine } from "./progress_bar.ts";

export { EXEC_REPORT_VERSION, printEvent };

/**
 * Run one sandbox from `plan`, wiring the command through `io` (or the io `io(sessionId)` makes,
 * for one that needs the session, like captured output); returns the exit status. With `report`,
 * the run ends with the JSON report there instead of the human summary.
 *
 * @example
 * ```ts ignore
 * import { runOneShot } from "./one_shot.ts";
 * import { pipedIo } from "./piped_io.ts";
 * const status = await runOneShot(plan, pipedIo());
 * ```
 */
export async function runOneShot(
  plan: SandboxPlan,
  io: CommandIo | ((sessionId: string) => CommandIo),
  report?: ReportTarget,
): Promise<number> {
  const quiet = plan.json;
  const warnings: string[] = [];
  const progress = new ProgressLine();
  await using ctx = openContext({
    // Warnings are worth seeing even under --json (on stderr, and in the report); progress is not.
    onEvent: (event) => {
      // Packing a large share reports how far it is: one progress line, replaced in place.
      if (event.type === "step-progress") {
        if (!quiet && !output.quiet) {
          progress.update({ label: event.message, fraction: event.fraction });
        }
        return;
      }
      progress.clear();
      if (event.type === "warning") warnings.push(event.message);
      if (!quiet || event.type === "warning") printEvent(event);
    },
  });
  // --quiet drops the summaries, unless a question about the changes needs them.
  const silent = quiet || (output.quiet && plan.after !== "ask");
  const log = silent ? () => {} : (line: string) => console.error(line);
  let commandIo: CommandIo | undefined;
  const alsoAsk = plan.prompts ? interactiveAsker() : undefined;
  const run = await runSandbox(ctx, plan.spec, (sandbox) => {
    progress.clear();
    commandIo = typeof io === "function" ? io(sandbox.id) : io;
    return runAttached(host(sandbox), commandIo, { ...sandbox.command() });
  }, {
    // The terminal asks, and the question is in the approval queue too (who answered is kept).
    approvals: alsoAsk ? { alsoAsk } : undefined,
    confirmLearned: learnConfirmer({ yes: plan.learnYes, json: plan.json }),
    systemChanges: plan.systemDiff,
  });
  if (!silent) printNetworkReport(run.network);
  const status = exitStatus(run.result, plan.spec.timeoutSec);
  const applied = run.changes && run.root !== undefined
    ? await finishWorkspace(ctx, { id: run.id }, run.root, run.changes, plan.after, log)
    : undefined;
  if (report) {
    await emitReport(
      report,
      execReport({
        session: run.id,
        exitCode: status,
        result: run.result,
        io: commandIo,
        warnings,
        changes: run.changes && run.root !== undefined
          ? JSON.parse(renderJson(run.changes.entries, { session: run.id, root: run.root }))
          : null,
        applied: applied ?? null,
        network: {
          backend: run.network.backend,
          requests: run.network.requests,
          refused: run.network.refused,
        },
        timings: run.timings,
        system: run.system ? JSON.parse(renderSystemJson(await systemDiff(run.id))) : undefined,
      }),
    );
  }
  return status;
}
/** A sandbox this process owns, as the host of a command: giving up stops its VM. */
function host(sandbox: Sandbox): CommandHost {
  return {
    exec: (request) => sandbox.exec(request),
    stop: () => sandbox.vm.stop(),
    lost: sandbox.lost,
    stopMessage: (signal) => `${signal}: stopping the VM`,
    explain: (error) => sandbox.explain(error),
  };
}
