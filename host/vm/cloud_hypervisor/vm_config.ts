/**
 * The Cloud Hypervisor `VmConfig` (the `vm.create` body) for a {@linkcode VmSpec}. Pure, so that
 * it can be tested and read. Field names and enums follow Cloud Hypervisor's OpenAPI description
 * (`vmm/src/api/openapi/cloud-hypervisor.yaml`, schemas `VmConfig`, `PayloadConfig`, `CpusConfig`,
 * `MemoryConfig`, `DiskConfig`, `NetConfig`, `VsockConfig`, `SerialConfig`, `ConsoleConfig`).
 *
 * The machine differs from QEMU's microvm: devices are virtio-pci, not virtio-mmio (the image's
 * stage 1 loads `virtio_pci`), the console is the legacy serial port (ttyS0, written to a socket
 * agentbox reads like QEMU's), and the agent channel is always vsock, reached from the host through
 * Cloud Hypervisor's hybrid vsock socket. Only the tap network exists: Cloud Hypervisor has no
 * user-mode networking.
 *
 * @module
 */

import { VmError } from "../errors.ts";
import type { VmDisk, VmSpec } from "../spec.ts";
import { AGENT_VSOCK_PORT } from "../qemu/argv.ts";

/** `PayloadConfig`: direct kernel boot. */
export interface PayloadConfig {
  kernel: string;
  initramfs: string;
  cmdline: string;
}

/** `DiskConfig` (the fields agentbox sets). */
export interface DiskConfig {
  path: string;
  readonly: boolean;
  id?: string;
  serial?: string;
}

/** `SerialConfig` / `ConsoleConfig` (`mode` is `Off`, `Null`, `Tty`, `File`, `Socket`, `Pty`). */
export interface ConsoleConfig {
  mode: "Off" | "Null" | "Tty" | "File" | "Socket" | "Pty";
  socket?: string;
  file?: string;
}

/** The `vm.create` body agentbox sends (a subset of Cloud Hypervisor's `VmConfig`). */
export interface VmConfig {
  payload: PayloadConfig;
  cpus: { boot_vcpus: number; max_vcpus: number };
  memory: { size: number; shared?: boolean };
  disks: DiskConfig[];
  net?: { tap: string; id?: string }[];
  vsock: { cid: number; socket: string; id?: string };
  serial: ConsoleConfig;
  console: ConsoleConfig;
}

/** Paths of the sockets Cloud Hypervisor creates in the VM's runtime directory. */
export interface ChFiles {
  /** The REST API (`--api-socket`). */
  apiSocket: string;
  /** Hybrid vsock: the host connects here and writes `CONNECT <port>\n`. */
  vsockSocket: string;
  /** The guest's serial console (ttyS0), read by agentbox into a bounded ring. */
  consoleSocket: string;
}

/**
 * The files Cloud Hypervisor uses inside `runtimeDir`.
 *
 * @example
 * ```ts
 * import { chFiles } from "./vm_config.ts";
 * console.assert(chFiles("/run/vm").apiSocket === "/run/vm/ch-api.sock");
 * ```
 */
export function chFiles(runtimeDir: string): ChFiles {
  return {
    apiSocket: `${runtimeDir}/ch-api.sock`,
    vsockSocket: `${runtimeDir}/vsock.sock`,
    consoleSocket: `${runtimeDir}/console.sock`,
  };
}

/** The guest CID agentbox gives every Cloud Hypervisor VM: hybrid vsock is per VM, no clash. */
export const GUEST_CID = 3;

/**
 * Build the `vm.create` body for `spec`. Throws {@linkcode VmError} for a user network, which
 * Cloud Hypervisor cannot provide.
 *
 * @example
 * ```ts
 * import { chVmConfig } from "./vm_config.ts";
 * const config = chVmConfig({
 *   kernel: "/i/vmlinuz", initrd: "/i/initrd.img", rootfs: "/i/rootfs.erofs",
 *   cpus: 2, memoryMb: 512, runtimeDir: "/run/vm", bootTimeoutMs: 30000,
 * });
 * console.assert(config.memory.size === 512 * 1024 * 1024);
 * console.assert(config.vsock.socket === "/run/vm/vsock.sock");
 * ```
 */
export function chVmConfig(spec: VmSpec): VmConfig {
  if (spec.network?.kind === "user") {
    throw new VmError(
      "Cloud Hypervisor needs the tap network (root): use --net-backend tap, or --net none",
    );
  }
  const files = chFiles(spec.runtimeDir);
  const cmdline = [
    "console=ttyS0",
    "quiet",
    "panic=-1",
    "agentbox.channel=vsock",
    `agentbox.vsock_port=${AGENT_VSOCK_PORT}`,
    ...(spec.cmdline ?? []),
  ].join(" ");
  const config: VmConfig = {
    payload: { kernel: spec.kernel, initramfs: spec.initrd, cmdline },
    cpus: { boot_vcpus: spec.cpus, max_vcpus: spec.cpus },
    memory: { size: spec.memoryMb * 1024 * 1024 },
    // The root filesystem first: the guest's stage 1 mounts /dev/vda.
    disks: [
      { path: spec.rootfs, readonly: true, id: "root" },
      ...(spec.disks ?? []).map(diskConfig),
    ],
    vsock: { cid: GUEST_CID, socket: files.vsockSocket, id: "agent" },
    serial: { mode: "Socket", socket: files.consoleSocket },
    console: { mode: "Off" },
  };
  if (spec.network) config.net = [{ tap: tapName(spec.network.ifname), id: "net0" }];
  return config;
}

function diskConfig(disk: VmDisk, index: number): DiskConfig {
  if (!/^[\w-]{1,20}$/.test(disk.serial)) {
    throw new RangeError(`Invalid disk serial ${disk.serial}`);
  }
  return { path: disk.path, readonly: disk.readonly, id: `disk${index}`, serial: disk.serial };
}

function tapName(ifname: string): string {
  if (!/^[\w-]{1,15}$/.test(ifname)) throw new RangeError(`Invalid tap name ${ifname}`);
  return ifname;
}
