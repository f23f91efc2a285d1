/**
 * Boot and stop a QEMU microVM and connect to its agent — or bring one back from a saved state
 * (QMP `migrate` to a file, `-incoming` on a new QEMU: see snapshot_state.ts).
 *
 * No orphan QEMU, ever: QEMU is started through `setpriv --pdeathsig SIGKILL`, so the kernel kills
 * it when agentbox dies for any reason (SIGKILL included); {@linkcode RunningVm.stop} covers normal
 * exits and Ctrl-C.
 *
 * @module
 */

import type { AgentClient } from "../../channel/agent_client.ts";
import { type ChannelAddress, connectChannel } from "../../channel/connect.ts";
import { bootAgent } from "../boot_agent.ts";
import { ConsoleTail } from "../console_tail.ts";
import { VmError } from "../errors.ts";
import type { RunningVm, VmExit } from "../running_vm.ts";
import type { ChannelKind, VmSpec } from "../spec.ts";
import { followConsole, killVmm, spawnVmm, watchExit } from "../vmm_process.ts";
import type { Accel } from "./accel.ts";
import { cachedProbeAccel, claimTcgWarning } from "./accel_cache.ts";
import { AGENT_VSOCK_PORT, qemuArgv, qemuFiles } from "./argv.ts";
import { hostTscKhz } from "./host_tsc.ts";
import { QmpClient } from "./qmp.ts";
import { swapDiskFiles } from "./disk_swap.ts";
import { INCOMING_ARGS, restoreState, saveState } from "./snapshot_state.ts";

export type { RunningVm, SaveOptions, VmExit } from "../running_vm.ts";

/** The QEMU binary used unless `AGENTBOX_QEMU` names another. */
export const DEFAULT_QEMU = "qemu-system-x86_64";

const CONSOLE_TAIL_LINES = 20;
const STOP_GRACE_MS = 1000;

/** Which QEMU runs a VM, and how: everything about the host that shapes the command line. */
export interface QemuSetup {
  /** The QEMU binary (`AGENTBOX_QEMU`, else {@linkcode DEFAULT_QEMU}). */
  qemu: string;
  accel: Accel;
  channel: ChannelKind;
  /** The host's TSC rate, for a TCG guest. */
  tscKhz?: number;
}

/** Options for {@linkcode startQemuVm}. */
export interface StartOptions {
  /** Skip the KVM probe and use this accelerator. */
  accel?: Accel;
  /** The setup from {@linkcode qemuSetup}, when the caller already has it. */
  setup?: QemuSetup;
  /**
   * Start from this saved state (see {@linkcode RunningVm.saveState}) instead of booting. The
   * spec must describe the same devices as the VM that saved it; the disks' files may differ.
   */
  restoreFrom?: string;
  /**
   * The state in `restoreFrom` was saved without the memory (`SaveOptions.memoryInFile`): the
   * spec's `memoryFile` is the memory.
   */
  memoryInFile?: boolean;
  /** Called once with a user-facing warning, e.g. the TCG fallback. */
  onWarning?: (message: string) => void;
  /**
   * Warn about the TCG fallback (default true): then once per host boot
   * ({@linkcode claimTcgWarning}); false never (config `vm.kvm_warning = false`).
   */
  kvmWarning?: boolean;
}

/**
 * Find QEMU, the accelerator (KVM probed, else TCG) and the agent channel this host offers.
 *
 * @example
 * ```ts
 * import { qemuSetup } from "./qemu_vm.ts";
 * const setup = await qemuSetup();
 * console.log(setup.accel.kind, setup.channel);
 * ```
 */
export async function qemuSetup(options: { accel?: Accel } = {}): Promise<QemuSetup> {
  const qemu = Deno.env.get("AGENTBOX_QEMU") || DEFAULT_QEMU;
  const accel = options.accel ?? await cachedProbeAccel(qemu).catch(() => missingQemu(qemu));
  const channel: ChannelKind = await vsockAvailable() ? "vsock" : "serial";
  return { qemu, accel, channel, tscKhz: await hostTscKhz() };
}

/**
 * Boot `spec` and wait for the agent's hello.
 *
 * @example
 * ```ts
 * import { startQemuVm } from "./qemu_vm.ts";
 * const vm = await startQemuVm({ kernel: "vmlinuz", initrd: "initrd.img", rootfs: "rootfs.erofs",
 *   cpus: 2, memoryMb: 1024, runtimeDir: "/run/vm-1", bootTimeoutMs: 60000 });
 * try {
 *   const run = vm.agent.exec({ argv: ["uname", "-a"] });
 * } finally {
 *   await vm.stop();
 * }
 * ```
 */
export async function startQemuVm(spec: VmSpec, options: StartOptions = {}): Promise<RunningVm> {
  const { qemu, accel, channel, tscKhz } = options.setup ??
    await qemuSetup({ accel: options.accel });
  if (
    accel.kind === "tcg" && options.onWarning && options.kvmWarning !== false &&
    await claimTcgWarning(qemu)
  ) {
    options.onWarning(
      `KVM is not available, using slow software emulation (said once per boot; ` +
        `\`agentbox doctor\` explains): ${accel.reason}`,
    );
  }
  const files = qemuFiles(spec.runtimeDir);
  const cid = channel === "vsock" ? pickCid() : undefined;
  if (options.restoreFrom && channel !== "serial") {
    throw new VmError("Cannot restore a VM whose agent channel is vsock");
  }
  const process = spawnVmm(qemu, [
    ...qemuArgv(spec, { accel, channel, vsockCid: cid, tscKhz }),
    ...(options.restoreFrom ? INCOMING_ARGS : []),
  ]);
  const exited = watchExit(process);
  const guestConsole = new ConsoleTail();
  followConsole(files.consoleSocket, guestConsole, exited);
  const consoleTail = () => Promise.resolve(guestConsole.lines(CONSOLE_TAIL_LINES));
  let qmp: QmpClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= shutdown(process, exited, () => qmp, spec.runtimeDir).finally(() =>
      agent?.close()
    );

  let agent: AgentClient | undefined;
  try {
    const address: ChannelAddress = channel === "vsock"
      ? { kind: "vsock", cid: cid!, port: AGENT_VSOCK_PORT }
      : { kind: "serial", socket: files.agentSocket };
    const restoreFrom = options.restoreFrom;
    agent = await bootAgent((signal) => connectChannel(address, signal), {
      timeoutMs: spec.bootTimeoutMs,
      exited,
      consoleTail,
      greet: restoreFrom
        ? async (conn) => {
          qmp = await QmpClient.connect(files.qmpSocket);
          return await restoreState(qmp, conn, {
            file: restoreFrom,
            memoryInFile: options.memoryInFile,
          });
        }
        : undefined,
    });
    qmp ??= await QmpClient.connect(files.qmpSocket);
  } catch (error) {
    await stop();
    throw error;
  }
  const monitor = qmp;
  let swaps = 0;
  return {
    vmm: "qemu",
    agent,
    accel,
    channel,
    restored: options.restoreFrom !== undefined,
    exited,
    consoleTail,
    saveState: (file, saveOptions) => saveState(monitor, file, saveOptions),
    pause: () => monitor.execute("stop").then(() => {}),
    resume: () => monitor.execute("cont").then(() => {}),
    swapDisks: (disks) => swapDiskFiles(monitor, disks, ++swaps),
    stop,
  };
}

function missingQemu(qemu: string): never {
  throw new VmError(
    `Cannot run ${qemu}: is QEMU installed? (Debian: apt-get install qemu-system-x86)`,
  );
}

async function shutdown(
  process: Deno.ChildProcess,
  exited: Promise<VmExit>,
  qmp: () => QmpClient | undefined,
  runtimeDir: string,
): Promise<void> {
  const monitor = qmp();
  if (monitor) {
    monitor.execute("quit").catch(() => {});
  } else {
    killVmm(process);
  }
  const timer = setTimeout(() => killVmm(process), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  monitor?.close();
  await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
}

async function vsockAvailable(): Promise<boolean> {
  try {
    (await Deno.open("/dev/vhost-vsock", { read: true, write: true })).close();
    return true;
  } catch {
    return false;
  }
}

function pickCid(): number {
  // CIDs 0-2 are reserved; a random one avoids clashing with other VMs on the host.
  return 3 + Math.floor(Math.random() * 0x7fff_0000);
}
