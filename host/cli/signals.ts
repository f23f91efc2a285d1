/**
 * Ctrl-C while a command runs: the first SIGINT goes to the command, the second kills the
 * command, the third stops the VM. SIGTERM and SIGHUP to agentbox stop the VM at once.
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
export function forwardInterrupts(run: ExecHandle, stopVm: () => Promise<void>): () => void {
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) run.signal("SIGINT").catch(() => {});
    else if (interrupts === 2) run.signal("SIGKILL").catch(() => {});
    else stopVm();
  };
  const onTerminate = () => {
    stopVm();
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  Deno.addSignalListener("SIGTERM", onTerminate);
  Deno.addSignalListener("SIGHUP", onTerminate);
  return () => {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onTerminate);
    Deno.removeSignalListener("SIGHUP", onTerminate);
  };
}
