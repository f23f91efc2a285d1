/**
 * What a VM is made of, independent of the VMM that runs it.
 *
 * @module
 */

import type { TapNetwork } from "../net/tap_network.ts";
import type { UserNetwork } from "../net/user_network.ts";

/** The host↔agent channel a VM offers. */
export type ChannelKind = "serial" | "vsock";

/** An extra virtio-blk disk, found in the guest by its serial number. */
export interface VmDisk {
  path: string;
  readonly: boolean;
  /** Letters, digits, `-` and `_` only (it goes into a QEMU option list). */
  serial: string;
}

/** A guest network: QEMU user networking (rootless) or a tap device (root). */
export type VmNetwork = UserNetwork | TapNetwork;

/** Everything needed to boot one VM. */
export interface VmSpec {
  /** Guest kernel image. */
  kernel: string;
  /** Initial ramdisk. */
  initrd: string;
  /** Read-only root filesystem image, attached as the first virtio-blk disk. */
  rootfs: string;
  cpus: number;
  memoryMb: number;
  /**
   * Keep the guest's memory in this file instead of anonymous memory: `shared`, the guest writes
   * into the file (a template being made); else the file is mapped copy-on-write, the guest sees
   * its contents and what it writes stays private to the VM (a VM restored from a template, whose
   * memory is the template's file: host/vm/template.ts).
   */
  memoryFile?: { path: string; shared: boolean };
  /** Extra kernel command-line arguments (`agentbox.<key>=value`). */
  cmdline?: string[];
  /** Disks after the root filesystem, in order. */
  disks?: VmDisk[];
  /** The guest's network; none means no network interface at all (`--net none`). */
  network?: VmNetwork;
  /** Private directory for sockets and logs; removed when the VM is gone. */
  runtimeDir: string;
  /** Give up when the agent has not said hello within this many milliseconds. */
  bootTimeoutMs: number;
}

/** Below this the guest kernel and the agent's Deno runtime do not fit (MiB). */
export const MIN_MEMORY_MB = 256;

/** Defaults for CPUs, memory and boot timeout. */
export const VM_DEFAULTS = {
  cpus: 2,
  memoryMb: 1024,
  bootTimeoutMs: 60_000,
} as const;
