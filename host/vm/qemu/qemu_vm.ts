/**
 * Boot and stop a QEMU microVM and connect to its agent.
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
  /** Settles when QEMU exits, for whatever reason. */
  exited: Promise<VmExit>;
  /** The last lines of the guest console. */
  consoleTail(): Promise<string>;
  /** Quit QEMU (SIGKILL after a grace period) and remove the runtime directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startQemuVm}. */
export interface StartOptions {
  /** Skip the KVM probe and use this accelerator. */
  accel?: Accel;
  /** Called once with a user-facing warning, e.g. the TCG fallback. */
  onWarning?: (message: string) => void;
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
  const qemu = Deno.env.get("AGENTBOX_QEMU") || DEFAULT_QEMU;
  const accel = options.accel ?? await cachedProbeAccel(qemu).catch(() => missingQemu(qemu));
  if (accel.kind === "tcg") {
    options.onWarning?.(`KVM is not available, using slow software emulation: ${accel.reason}`);
  }
  const files = qemuFiles(spec.runtimeDir);
  const vsock = await vsockAvailable();
  const cid = vsock ? pickCid() : undefined;
  const channel: ChannelKind = vsock ? "vsock" : "serial";
  const tscKhz = await hostTscKhz();
  const process = spawnQemu(qemu, qemuArgv(spec, { accel, channel, vsockCid: cid, tscKhz }));
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
    agent = await bootAgent(address, spec.bootTimeoutMs, exited, consoleTail);
    qmp = await QmpClient.connect(files.qmpSocket);
  } catch (error) {
    await stop();
    throw error;
  }
  return { agent, accel, channel, exited, consoleTail, stop };
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

async function bootAgent(
  address: ChannelAddress,
  timeoutMs: number,
  exited: Promise<VmExit>,
  consoleTail: () => Promise<string>,
): Promise<AgentClient> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const exitedDuringBoot = exited.then((exit) => {
    abort.abort();
    return exit;
  });
  try {
    const conn = await connectChannel(address, abort.signal);
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
