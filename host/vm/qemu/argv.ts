/**
 * The QEMU command line for a {@linkcode VmSpec}. Pure, so that it can be tested and read.
 * Every value placed inside a `-opt key=value,...` list is escaped (QEMU doubles commas).
 *
 * @module
 */

import { tapNetworkArgs } from "../../net/tap_network.ts";
import { userNetworkArgs } from "../../net/user_network.ts";
import type { Accel } from "./accel.ts";
import type { ChannelKind, VmDisk, VmNetwork, VmSpec } from "../spec.ts";

/** Paths of the sockets and logs QEMU creates in the VM's runtime directory. */
export interface QemuFiles {
  qmpSocket: string;
  agentSocket: string;
  /** The guest console (ttyS0), read by agentbox into a bounded ring; never written to disk. */
  consoleSocket: string;
}

/** The files QEMU uses inside `runtimeDir`. */
export function qemuFiles(runtimeDir: string): QemuFiles {
  return {
    qmpSocket: `${runtimeDir}/qmp.sock`,
    agentSocket: `${runtimeDir}/agent.sock`,
    consoleSocket: `${runtimeDir}/console.sock`,
  };
}

/**
 * Escape a value for a QEMU option list.
 *
 * @example
 * ```ts
 * import { escapeOption } from "./argv.ts";
 * console.assert(escapeOption("/tmp/a,b") === "/tmp/a,,b");
 * ```
 */
export function escapeOption(value: string): string {
  return value.replaceAll(",", ",,");
}

/** Options for {@linkcode qemuArgv}. */
export interface QemuArgvOptions {
  accel: Accel;
  channel: ChannelKind;
  /** Guest CID when `channel` is vsock. */
  vsockCid?: number;
  /** The host's TSC frequency in kHz, handed to a TCG guest (see {@linkcode tscArgs}). */
  tscKhz?: number;
}

/**
 * Build the argument list (without the binary) for a microVM.
 *
 * @example
 * ```ts
 * import { qemuArgv } from "./argv.ts";
 * const args = qemuArgv({
 *   kernel: "/i/vmlinuz", initrd: "/i/initrd.img", rootfs: "/i/rootfs.erofs",
 *   cpus: 1, memoryMb: 512, runtimeDir: "/run/vm", bootTimeoutMs: 30000,
 * }, { accel: { kind: "tcg", reason: "" }, channel: "serial" });
 * console.assert(args.includes("microvm,isa-serial=on,rtc=on"));
 * ```
 */
export function qemuArgv(spec: VmSpec, options: QemuArgvOptions): string[] {
  const files = qemuFiles(spec.runtimeDir);
  const kvm = options.accel.kind === "kvm";
  const cmdline = [
    "console=ttyS0",
    "quiet",
    "panic=-1",
    ...tscArgs(options),
    `agentbox.channel=${options.channel}`,
    ...(options.channel === "vsock" ? [`agentbox.vsock_port=${AGENT_VSOCK_PORT}`] : []),
    ...(spec.cmdline ?? []),
  ].join(" ");
  return [
    // With no RTC the kernel spends a whole second at boot trying to read one.
    ...["-M", `microvm,isa-serial=on,rtc=on${spec.memoryFile ? `,memory-backend=${RAM_ID}` : ""}`],
    ...["-accel", kvm ? "kvm" : `tcg,thread=multi,tb-size=${TCG_TB_SIZE_MB}`],
    ...["-cpu", kvm ? "host" : "max"],
    ...["-smp", String(spec.cpus), "-m", `${spec.memoryMb}M`],
    ...memoryArgs(spec),
    ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
    ...["-kernel", spec.kernel, "-initrd", spec.initrd, "-append", cmdline],
    ...[
      "-chardev",
      `socket,id=console,path=${escapeOption(files.consoleSocket)},server=on,wait=off`,
    ],
    ...["-serial", "chardev:console"],
    ...["-drive", `id=root,file=${escapeOption(spec.rootfs)},format=raw,if=none,readonly=on`],
    ...["-device", "virtio-blk-device,drive=root"],
    ...(spec.disks ?? []).flatMap(diskArgs),
    ...channelArgs(files, options),
    ...(spec.network ? networkArgs(spec.network) : []),
    ...["-qmp", `unix:${escapeOption(files.qmpSocket)},server=on,wait=off`],
  ];
}

/**
 * The cap, in MiB, on TCG's translated code. QEMU's default is a 1 GiB buffer that a VM fills as
 * its guest runs new code and never gives back: 44–50 MiB right after a restore, 250 MiB after a
 * few `deno eval` runs, all of it resident (QEMU backs the buffer with huge pages) for as long as
 * the VM lives. Capped, QEMU flushes and retranslates when it is full. 64 stays above what an idle
 * restored guest translates and costs busy workloads little; 32 and 16 made them slower
 * (tests/bench/tcg_tb_size.ts, figures in docs/benchmarks.md).
 */
export const TCG_TB_SIZE_MB = 64;

/**
 * Under TCG the guest's TSC ticks at the host's rate, but the kernel's calibration against the PIT
 * fails whenever the host is busy; the kernel then has no TSC frequency, falls back to a delay
 * loop that waits for timer ticks, and hangs for good (7 boots in 12 on a loaded 2-core host).
 * Telling it the frequency skips that calibration: 0 hangs in 12 under the same load.
 */
function tscArgs(options: QemuArgvOptions): string[] {
  if (options.accel.kind === "kvm" || !options.tscKhz) return [];
  return [`tsc_early_khz=${Math.round(options.tscKhz)}`];
}

/**
 * Guest memory from a file (see {@linkcode VmSpec.memoryFile}). The backend takes the id QEMU
 * gives its default RAM (`microvm.ram`), so that a migration stream's RAM block has the same name
 * whichever backend saved it or loads it: a VM restored from a template can be saved as a session
 * snapshot and that restored into anonymous memory.
 */
function memoryArgs(spec: VmSpec): string[] {
  if (!spec.memoryFile) return [];
  const { path, shared } = spec.memoryFile;
  return [
    "-object",
    `memory-backend-file,id=${RAM_ID},size=${spec.memoryMb}M,mem-path=${escapeOption(path)},` +
    `share=${shared ? "on" : "off"}`,
  ];
}

const RAM_ID = "microvm.ram";

function networkArgs(network: VmNetwork): string[] {
  return network.kind === "tap" ? tapNetworkArgs(network) : userNetworkArgs(network);
}

/**
 * The block node names of the `index`th disk of {@linkcode VmSpec.disks}: its raw format node and
 * the file node under it. Stable names let a running VM's disk be pointed at another file
 * (qemu/disk_swap.ts).
 *
 * @example
 * ```ts
 * import { diskNodeNames } from "./argv.ts";
 * console.assert(diskNodeNames(0).format === "disk0-fmt");
 * ```
 */
export function diskNodeNames(index: number): { drive: string; format: string; file: string } {
  const drive = `disk${index}`;
  return { drive, format: `${drive}-fmt`, file: `${drive}-file` };
}

function diskArgs(disk: VmDisk, index: number): string[] {
  if (!/^[\w-]{1,20}$/.test(disk.serial)) {
    throw new RangeError(`Invalid disk serial ${disk.serial}`);
  }
  const { drive: id, format, file } = diskNodeNames(index);
  const mode = disk.readonly ? "readonly=on" : "readonly=off";
  return [
    ...[
      "-drive",
      `id=${id},node-name=${format},file=${escapeOption(disk.path)},file.node-name=${file},` +
      `format=raw,if=none,${mode}`,
    ],
    ...["-device", `virtio-blk-device,drive=${id},serial=${disk.serial}`],
  ];
}

/** The vsock port the agent listens on. */
export const AGENT_VSOCK_PORT = 1024;

function channelArgs(files: QemuFiles, options: QemuArgvOptions): string[] {
  if (options.channel === "vsock") {
    return ["-device", `vhost-vsock-device,guest-cid=${options.vsockCid}`];
  }
  return [
    ...["-chardev", `socket,id=agent,path=${escapeOption(files.agentSocket)},server=on,wait=off`],
    ...["-device", "virtio-serial-device", "-device", "virtserialport,chardev=agent,name=agentbox"],
  ];
}
