/**
 * `agentbox run --detach [--name N] [-- CMD]`: start a long-lived session whose owner outlives
 * this command (host/api/session_owner.ts), print its id, and return as soon as it is running.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { startDetachedSession } from "../api/session_owner.ts";
import { isValidName, NAME_RULE } from "../api/spec_vocabulary.ts";
import { label } from "../api/sessions.ts";
import type { LifecycleRecord } from "../store/session_lifecycle.ts";
import { UsageError } from "./errors.ts";
import { positiveInt, projectOption } from "./options.ts";
import { DEFAULT_APPROVAL_TIMEOUT_MS } from "../api/approval_gate.ts";
import { DEFAULT_COMMAND } from "./run.ts";
import { sandboxPlan } from "./sandbox_plan.ts";

/**
 * Start a detached session from `run`'s parsed options; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runDetached } from "./detached_run.ts";
 * await runDetached({ detach: true, name: "web" }, []);
 * ```
 */
export async function runDetached(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (values.apply || values.discard) {
    throw new UsageError(
      "--apply and --discard do not go with --detach: `agentbox stop` keeps the changes for " +
        "`agentbox diff` and `agentbox apply`",
    );
  }
  const name = values.name as string | undefined;
  if (name !== undefined && !isValidName(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: ${NAME_RULE}`);
  }
  const plan = await sandboxPlan(
    "run",
    values,
    positionals.length > 0 ? positionals : [...DEFAULT_COMMAND],
    {
      interactive: false,
      cwd: Deno.cwd(),
      share: values["no-share"] ? undefined : Deno.cwd(),
      prompts: false,
    },
  );
  if (plan.spec.share !== undefined) await projectOption("run", plan.spec.share);
  const approvalSec = positiveInt(
    "run",
    "approval-timeout",
    values["approval-timeout"] as string | undefined,
    DEFAULT_APPROVAL_TIMEOUT_MS / 1000,
    3600,
    0,
  );
  return await launchDetached({
    name,
    spec: plan.spec,
    runCommand: positionals.length > 0,
    learnYes: plan.learnYes,
    approvals: approvalSec === 0 ? false : { timeoutMs: approvalSec * 1000 },
  });
}

/**
 * Start a detached session from `request`, wait until it runs, print its id on stdout and how to
 * use it on stderr; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { launchDetached } from "./detached_run.ts";
 * await launchDetached({ name: "b", spec, runCommand: false, restore: "base" });
 * ```
 */
export async function launchDetached(
  request: Parameters<typeof startDetachedSession>[1],
): Promise<number> {
  await using ctx = openContext();
  printStarted(await startDetachedSession(ctx, request), { command: request.runCommand });
  return 0;
}

/**
 * Print a just started session's id on stdout and how to use it on stderr.
 *
 * @example
 * ```ts
 * import { printStarted } from "./detached_run.ts";
 * printStarted({ id: "0f3c2a9e-0000-4000-8000-000000000000", name: "web" });
 * ```
 */
export function printStarted(
  session: Pick<LifecycleRecord, "id" | "name">,
  options: { command?: boolean } = {},
): void {
  console.log(session.id);
  const ref = label(session);
  const command = options.command
    ? `\`agentbox attach ${ref}\` (its command; Ctrl-P Ctrl-Q detaches), \`agentbox logs ${ref}\`, `
    : "";
  console.error(
    `agentbox: session ${ref} is running: ${command}\`agentbox shell ${ref}\`, ` +
      `\`agentbox exec --session ${ref} -- CMD\`, \`agentbox stop ${ref}\``,
  );
}
