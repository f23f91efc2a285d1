/**
 * Ctrl-C while a command runs: the first SIGINT goes to the command, the second kills the
 * command, the third stops the VM. SIGTERM and SIGHUP to agentbox stop the VM at once.
 * `stopVm` is told which signal made agentbox stop the VM.
 *
 * @module
 */

import type { ExecHandle } from "../channel/agent_client.ts";

/**
 * Install the handlers; returns a function that removes them.
 *
 * @example
 * ```ts
 * import { forwardInterrupts } from "./signals.ts";
 * declare const run: import("../channel/agent_client.ts").ExecHandle;
 * const stop = forwardInterrupts(run, async () => {});
 * stop();
 * ```
 */
export function forwardInterrupts(
  run: ExecHandle,
  stopVm: (signal: Deno.Signal) => Promise<void>,
): () => void {
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) run.signal("SIGINT").catch(() => {});
    else if (interrupts === 2) run.signal("SIGKILL").catch(() => {});
    else stopVm("SIGINT");
  };
  const onTerm = () => stopVm("SIGTERM");
  const onHup = () => stopVm("SIGHUP");
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGHUP", onHup);
  return () => {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGHUP", onHup);
  };
}
