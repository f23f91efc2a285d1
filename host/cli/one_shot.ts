/**
 * `agentbox exec` and `agentbox run` on a fresh VM: hand the plan's spec to the core's one-shot
 * lifecycle (host/api/sandbox.ts `runSandbox`), wire the command's stdio through a
 * {@linkcode CommandIo} (pipes, or the user's terminal), then render what came back: the network's
 * summary, the workspace's changes (and apply, discard or ask), or one JSON report.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import type { SandboxEvent } from "../api/events.ts";
import { runSandbox, type Sandbox } from "../api/sandbox.ts";
import { systemDiff } from "../api/system_changes.ts";
import { renderSystemJson } from "./system_diff.ts";
import { findSession } from "../store/sessions.ts";
import { renderJson } from "../workspace/render_diff.ts";
import { escapeControls } from "../terminal_text.ts";
import { type CommandHost, type CommandIo, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import { interactiveApprover, learnConfirmer, printNetworkReport } from "./net_options.ts";
import type { SandboxPlan } from "./sandbox_plan.ts";
import { finishWorkspace } from "./workspace_options.ts";

/** Version of the `exec --json` report; bumped only when a field changes meaning. */
export const EXEC_REPORT_VERSION = 1;

/**
 * Print a core event for the user, as agentbox's own stderr line.
 *
 * @example
 * ```ts
 * import { printEvent } from "./one_shot.ts";
 * printEvent({ type: "warning", message: "KVM is not available" });
 * ```
 */
export function printEvent(event: SandboxEvent): void {
  // Events can quote the guest (a collection warning): its controls are escaped.
  const message = escapeControls(event.message);
  console.error(
    event.type === "warning" ? `agentbox: warning: ${message}` : `agentbox: ${message}`,
  );
}

/**
 * Run one sandbox from `plan`, wiring the command through `io`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runOneShot } from "./one_shot.ts";
 * import { pipedIo } from "./piped_io.ts";
 * const status = await runOneShot(plan, pipedIo());
 * ```
 */
export async function runOneShot(plan: SandboxPlan, io: CommandIo): Promise<number> {
  const quiet = plan.json;
  using ctx = openContext({
    // Warnings are worth seeing even under --json (on stderr); progress is not.
    onEvent: (event) => {
      if (!quiet || event.type === "warning") printEvent(event);
    },
  });
  const log = quiet ? () => {} : (line: string) => console.error(line);
  const run = await runSandbox(ctx, plan.spec, (sandbox) =>
    runAttached(host(sandbox), io, {
      ...sandbox.command(),
    }), {
    approve: plan.prompts ? interactiveApprover(plan.spec.projectDir) : undefined,
    confirmLearned: learnConfirmer({ yes: plan.learnYes, json: plan.json }),
    systemChanges: plan.systemDiff,
  });
  if (!quiet) printNetworkReport(run.network);
  const status = exitStatus(run.result, plan.spec.timeoutSec);
  const session = findSession(ctx.db, run.id)!;
  const applied = run.changes && run.root !== undefined
    ? await finishWorkspace(session, run.root, run.changes, plan.after, log)
    : undefined;
  if (plan.json) {
    console.log(JSON.stringify({
      version: EXEC_REPORT_VERSION,
      session: run.id,
      exitCode: status,
      code: run.result.code,
      signal: run.result.signal,
      timedOut: run.result.timedOut,
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
      ...(run.system ? { system: JSON.parse(renderSystemJson(await systemDiff(run.id))) } : {}),
    }));
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
