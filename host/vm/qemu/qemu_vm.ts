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

import { delay } from "../../delay.ts";
import { AgentClient } from "../../channel/agent_client.ts";
import { type ChannelAddress, connectChannel } from "../../channel/connect.ts";
import { ConsoleTail } from "../console_tail.ts";
import { VmError } from "../errors.ts";
import type { ChannelKind, VmSpec } from "../spec.ts";
import type { Accel } from "./accel.ts";
import { cachedProbeAccel } from "./accel_cache.ts";
import { AGENT_VSOCK_PORT, qemuArgv, qemuFiles } from "./argv.ts";
import { hostTscKhz } from "./host_tsc.ts";
import { QmpClient } from "./qmp.ts";
import { incomingArgs, restoreState, type SaveOptions, saveState } from "./snapshot_state.ts";

/** The QEMU binary used unless `AGENTBOX_QEMU` names another. */
export const DEFAULT_QEMU = "qemu-system-x86_64";

const CONSOLE_TAIL_LINES = 20;
const STOP_GRACE_MS = 1000;

/** How QEMU ended. */
export interface VmExit {
  code: number;
  signal: Deno.Signal | null;
  /** First lines QEMU printed on stderr, if any. */
  stderr: string;
}

/** A booted VM with a greeted agent. */
export interface RunningVm {
  agent: AgentClient;
  accel: Accel;
  channel: ChannelKind;
  /** Whether the VM was restored from a saved state rather than booted. */
  restored: boolean;
  /** Settles when QEMU exits, for whatever reason. */
  exited: Promise<VmExit>;
  /** The last lines of the guest console. */
  consoleTail(): Promise<string>;
  /**
   * Save memory and device state to `file` (the disks are the caller's to keep). The VM is
   * paused for the save; `whilePaused` runs before it goes on (QEMU has flushed the disks: a
   * copy of them matches the saved memory); `resume` (default false) lets it run again
   * afterwards, else it stays paused until {@linkcode RunningVm.stop}. Throws `QmpError` when
   * QEMU cannot save, and what `whilePaused` threw (after resuming).
   */
  saveState(file: string, options?: SaveOptions): Promise<void>;
  /** Quit QEMU (SIGKILL after a grace period) and remove the runtime directory. Idempotent. */
  stop(): Promise<void>;
}

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
  /** Called once with a user-facing warning, e.g. the TCG fallback. */
  onWarning?: (message: string) => void;
}

/**
 * Find QEMU, the accelerator (KVM probed, else TCG) and the agent channel this host offers.
 *
 * @example
 * ```ts ignore
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
  if (accel.kind === "tcg") {
    options.onWarning?.(`KVM is not available, using slow software emulation: ${accel.reason}`);
  }
  const files = qemuFiles(spec.runtimeDir);
  const cid = channel === "vsock" ? pickCid() : undefined;
  if (options.restoreFrom && channel !== "serial") {
    throw new VmError("Cannot restore a VM whose agent channel is vsock");
  }
  const process = spawnQemu(qemu, [
    ...qemuArgv(spec, { accel, channel, vsockCid: cid, tscKhz }),
    ...(options.restoreFrom ? incomingArgs(options.restoreFrom) : []),
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
    agent = await bootAgent(
      address,
      spec.bootTimeoutMs,
      exited,
      consoleTail,
      restoreFrom
        ? async (conn) => {
          qmp = await QmpClient.connect(files.qmpSocket);
          return await restoreState(qmp, conn);
        }
        : undefined,
    );
    qmp ??= await QmpClient.connect(files.qmpSocket);
  } catch (error) {
    await stop();
    throw error;
  }
  const monitor = qmp;
  return {
    agent,
    accel,
    channel,
    restored: options.restoreFrom !== undefined,
    exited,
    consoleTail,
    saveState: (file, saveOptions) => saveState(monitor, file, saveOptions),
    stop,
  };
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      signal.throwIfAborted();
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }),
  ]);
}

function missingQemu(qemu: string): never {
  throw new VmError(
    `Cannot run ${qemu}: is QEMU installed? (Debian: apt-get install qemu-system-x86)`,
  );
}

function spawnQemu(qemu: string, args: string[]): Deno.ChildProcess {
  try {
    return new Deno.Command("setpriv", {
      args: ["--pdeathsig", "SIGKILL", "--", qemu, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw new VmError("Cannot start QEMU: setpriv (util-linux) is missing", { cause });
  }
}

async function watchExit(process: Deno.ChildProcess): Promise<VmExit> {
  const [status, stderr] = await Promise.all([process.status, firstBytes(process.stderr, 4096)]);
  return { code: status.code, signal: status.signal, stderr: stderr.trim() };
}

/**
 * Connect to the agent and greet it, within `timeoutMs`. `restore`, for a VM coming back from a
 * saved state, greets over the connection once the state is loaded; by default the agent of a
 * booting VM speaks first.
 */
async function bootAgent(
  address: ChannelAddress,
  timeoutMs: number,
  exited: Promise<VmExit>,
  consoleTail: () => Promise<string>,
  restore?: (conn: Deno.Conn) => Promise<AgentClient>,
): Promise<AgentClient> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const exitedDuringBoot = exited.then((exit) => {
    abort.abort();
    return exit;
  });
  try {
    const conn = await connectChannel(address, abort.signal);
    if (restore) return await abortable(restore(conn), abort.signal);
    return await AgentClient.connect(conn, { signal: abort.signal });
  } catch (cause) {
    const timedOut = abort.signal.aborted;
    // The channel usually closes a moment before QEMU is seen to exit: give the exit a chance
    // to explain the failure, since that is the fact the user needs.
    const died = await Promise.race([exitedDuringBoot, delay(STOP_GRACE_MS)]);
    const tail = await consoleTail();
    if (died) {
      const why = died.stderr.split("\n")[0] || `exit status ${died.code}`;
      throw new VmError(`The VM stopped while booting: ${why}`, { cause, consoleTail: tail });
    }
    if (timedOut) {
      const seconds = Math.round(timeoutMs / 1000);
      throw new VmError(`The VM's agent did not answer within ${seconds} s`, {
        cause,
        consoleTail: tail,
      });
    }
    throw new VmError(`Cannot reach the VM's agent: ${(cause as Error).message}`, {
      cause,
      consoleTail: tail,
    });
  } finally {
    clearTimeout(timer);
  }
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
    kill(process);
  }
  const timer = setTimeout(() => kill(process), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
  monitor?.close();
  await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
}

function kill(process: Deno.ChildProcess): void {
  try {
    process.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

async function firstBytes(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    if (text.length < limit) text += decoder.decode(chunk.subarray(0, limit - text.length));
  }
  return text;
}

/** Connect to the console socket as soon as QEMU creates it and keep its tail until exit. */
function followConsole(socket: string, tail: ConsoleTail, exited: Promise<VmExit>): void {
  const abort = new AbortController();
  exited.then(() => abort.abort());
  connectChannel({ kind: "serial", socket }, abort.signal)
    .then((conn) => tail.follow(conn.readable))
    .catch(() => {
      // QEMU exited before its console existed: there is nothing to show.
    });
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
