/**
 * Test support: a {@linkcode RunningVm} without a VMM — the guest agent served in-process on a
 * unix socket (host/channel/testing/in_process_agent.ts), its commands running on this host as this user. With the
 * core's `startVm` seam it runs the whole sandbox lifecycle in milliseconds; real-VM tests prove
 * what it cannot (the guest's users, its overlay, its network).
 *
 * @module
 */

import { startAgent } from "../../channel/testing/in_process_agent.ts";
import type { BootOptions } from "../boot.ts";
import type { RunningVm, VmExit } from "../running_vm.ts";

/** An in-process VM, and what it was started with. */
export interface InProcessVm extends RunningVm {
  /** The options the core passed to `startVm`. */
  options: BootOptions;
  /** Make the "VMM" exit as if the VM died (the agent's connection ends). */
  die(code?: number): Promise<void>;
}

/**
 * Start an in-process VM; usable as the core's `startVm` seam.
 *
 * @example
 * ```ts
 * import { startInProcessVm } from "./in_process_vm.ts";
 * const vm = await startInProcessVm({});
 * const run = vm.agent.exec({ argv: ["true"] });
 * await run.result;
 * await vm.stop();
 * ```
 */
export async function startInProcessVm(options: BootOptions): Promise<InProcessVm> {
  const agent = await startAgent();
  const exited = Promise.withResolvers<VmExit>();
  let ended = false;
  const end = async (code: number) => {
    if (ended) return;
    ended = true;
    await agent[Symbol.asyncDispose]();
    exited.resolve({ code, signal: null, stderr: "" });
  };
  return {
    options,
    vmm: "qemu",
    agent: agent.client,
    accel: { kind: "tcg", reason: "in-process test VM" },
    channel: "serial",
    restored: false,
    exited: exited.promise,
    consoleTail: () => Promise.resolve("in-process agent"),
    saveState: () => Promise.reject(new Error("An in-process VM cannot be saved")),
    pause: () => Promise.reject(new Error("An in-process VM cannot be paused")),
    resume: () => Promise.resolve(),
    stop: () => end(0),
    die: (code = 1) => end(code),
  };
}
