/**
 * What every VMM backend hands back: a booted (or restored) VM with a greeted agent. QEMU
 * (qemu/qemu_vm.ts) and Cloud Hypervisor (cloud_hypervisor/ch_vm.ts) both implement it.
 *
 * @module
 */

import type { AgentClient } from "../channel/agent_client.ts";
import type { Accel } from "./qemu/accel.ts";
import type { ChannelKind, VmDisk } from "./spec.ts";
import type { VmmKind } from "../vmm_kind.ts";

export { VMM_KINDS, type VmmKind } from "../vmm_kind.ts";

/** How the VMM process ended. */
export interface VmExit {
  code: number;
  signal: Deno.Signal | null;
  /** First lines the VMM printed on stderr, if any. */
  stderr: string;
}

/** Options of {@linkcode RunningVm.saveState}. */
export interface SaveOptions {
  /** Let the VM run again afterwards (default false: it stays paused). */
  resume?: boolean;
  /** Called once the state is saved, while the VM is still paused (its disks are quiet). */
  whilePaused?: () => Promise<void>;
  /**
   * Leave the memory out of the state: the VM's memory is a shared file (`VmSpec.memoryFile`,
   * QEMU only) that a VM restored from the state maps. Default false.
   */
  memoryInFile?: boolean;
}

/**
 * A booted VM with a greeted agent.
 *
 * @example
 * ```ts
 * import type { RunningVm } from "./running_vm.ts";
 * async function uname(vm: RunningVm): Promise<string> {
 *   const run = vm.agent.exec({ argv: ["uname", "-r"] });
 *   return await new Response(run.stdout).text();
 * }
 * ```
 */
export interface RunningVm {
  /** Which VMM runs it. */
  vmm: VmmKind;
  agent: AgentClient;
  accel: Accel;
  channel: ChannelKind;
  /** Whether the VM was restored from a saved state rather than booted. */
  restored: boolean;
  /** Settles when the VMM process exits, for whatever reason. */
  exited: Promise<VmExit>;
  /** The last lines of the guest console. */
  consoleTail(): Promise<string>;
  /**
   * Save memory and device state to `path` (the disks are the caller's to keep). The VM is
   * paused for the save; `whilePaused` runs before it goes on (the VMM has flushed the disks: a
   * copy of them matches the saved memory); `resume` (default false) lets it run again
   * afterwards, else it stays paused until {@linkcode RunningVm.stop}. QEMU writes one file at
   * `path`; Cloud Hypervisor writes a directory there (its snapshot is a directory of files).
   * Throws a `VmError` (`QmpError`, `CloudHypervisorError`) when the VMM cannot save, and what
   * `whilePaused` threw (after resuming).
   */
  saveState(path: string, options?: SaveOptions): Promise<void>;
  /**
   * Pause the guest: its vCPUs stop (and, under TCG, its clock with them) while the VMM process,
   * its devices and the agent's connection stay. Throws a `VmError` when the VMM refuses.
   */
  pause(): Promise<void>;
  /** Let a paused guest run again. Throws a `VmError` when the VMM refuses. */
  resume(): Promise<void>;
  /**
   * Point the VM's disks at other files (QEMU only: qemu/disk_swap.ts): `disks` in the order it
   * was started with, each with the read-only flag it had. Meant for disks the guest has not
   * mounted (a warm VM's placeholders); the guest keeps the capacity it saw. Throws `QmpError`
   * when QEMU refuses (the disks keep their files).
   */
  swapDisks?(disks: readonly VmDisk[]): Promise<void>;
  /** Stop the VMM (SIGKILL after a grace period) and remove the runtime directory. Idempotent. */
  stop(): Promise<void>;
}
