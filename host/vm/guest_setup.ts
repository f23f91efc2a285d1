/**
 * A set-up command the host runs in a guest right after it starts (mount the workspace, move the
 * network): its output is dropped, its failure becomes a `VmError` saying what could not be done.
 *
 * @module
 */

import { AGENT_DEADLINES, type AgentClient } from "../channel/agent_client.ts";
import { VmError } from "./errors.ts";

/**
 * Run `argv` in the guest as the agent's user; throws `VmError` "Cannot `what`: stderr" when it
 * exits non-zero.
 *
 * @example
 * ```ts
 * import { runGuestSetup } from "./guest_setup.ts";
 * import type { RunningVm } from "./running_vm.ts";
 * declare const vm: RunningVm;
 * await runGuestSetup(vm.agent, ["true"], "do nothing");
 * ```
 */
export async function runGuestSetup(
  agent: AgentClient,
  argv: string[],
  what: string,
): Promise<void> {
  const run = agent.exec({ argv, deadlineMs: AGENT_DEADLINES.hostCommandMs });
  const [, errors, result] = await Promise.all([
    run.stdout.cancel(),
    new Response(run.stderr).text(),
    run.result,
  ]);
  if (result.code !== 0) {
    throw new VmError(`Cannot ${what}: ${errors.trim().slice(0, 500) || "no reason given"}`);
  }
}
