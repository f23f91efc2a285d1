/**
 * Boot and stop a Cloud Hypervisor VM and connect to its agent — or bring one back from a
 * snapshot. The lifecycle, all through the REST API (api_client.ts):
 *
 * 1. `cloud-hypervisor --api-socket path=RUNTIME/ch-api.sock` (under `setpriv --pdeathsig
 *    SIGKILL`, so it never outlives agentbox), then `vmm.ping` until the API answers;
 * 2. `vm.create` with the spec's `VmConfig` (vm_config.ts), `vm.boot`;
 * 3. the agent over hybrid vsock (`CONNECT 1024`), retried until the guest's agent listens, and
 *    its hello;
 * 4. stop: `vm.shutdown`, `vmm.shutdown`, SIGKILL when the process is still there after a grace
 *    period; the runtime directory is removed.
 *
 * A guest that powers off leaves the VMM running (QEMU, started with `-no-reboot`, exits): agentbox
 * polls `vm.info` and ends the VMM when the VM is `Shutdown`, so that {@linkcode RunningVm.exited}
 * means the same for both VMMs. A guest reboot (a kernel panic, with `panic=-1`) restarts the VM
 * under Cloud Hypervisor; the host sees its agent connection drop.
 *
 * Snapshots: {@linkcode RunningVm.saveState} pauses the VM and has Cloud Hypervisor write its
 * snapshot *directory* (`vm.snapshot` to `file://DIR`: `config.json`, `state.json`, the memory);
 * a restore copies that directory into the new VM's runtime directory with `config.json`
 * pointing at the new VM's sockets and disks (the rest hard-linked), `vm.restore`s it and
 * `vm.resume`s. The agent then takes a fresh vsock connection and speaks first, as on a boot.
 *
 * Tested here against a stand-in API server (testing/fake_cloud_hypervisor.ts): Cloud Hypervisor needs
 * KVM, which our build machines cannot provide.
 *
 * @module
 */

import type { AgentClient } from "../../channel/agent_client.ts";
import { connectHybridVsockRetrying } from "../../channel/hybrid_vsock.ts";
import { delay } from "../../delay.ts";
import { bootAgent } from "../boot_agent.ts";
import { ConsoleTail } from "../console_tail.ts";
import { AGENT_VSOCK_PORT } from "../qemu/argv.ts";
import type { RunningVm, SaveOptions, VmExit } from "../running_vm.ts";
import type { VmSpec } from "../spec.ts";
import { followConsole, killVmm, spawnVmm, watchExit } from "../vmm_process.ts";
import { CloudHypervisorApi, CloudHypervisorError } from "./api_client.ts";
import { cloudHypervisorBinary } from "./ch_setup.ts";
import { type ChFiles, chFiles, chVmConfig, type VmConfig } from "./vm_config.ts";

const CONSOLE_TAIL_LINES = 20;
const STOP_GRACE_MS = 1000;
const PING_RETRY_MS = 10;
const WATCH_MS = 500;

/** Options of {@linkcode startChVm}. */
export interface ChStartOptions {
  /** The Cloud Hypervisor binary; default `AGENTBOX_CLOUD_HYPERVISOR`, else `cloud-hypervisor`. */
  binary?: string;
  /**
   * Start from this snapshot directory (written by {@linkcode RunningVm.saveState}) instead of
   * booting. The spec must describe the same machine; its disks' files may differ.
   */
  restoreFrom?: string;
}

/**
 * Boot `spec` under Cloud Hypervisor (or restore it) and wait for the agent's hello. Throws
 * `VmError` (a {@linkcode CloudHypervisorError} when the API refuses a step, with Cloud
 * Hypervisor's own error text) after stopping whatever it started.
 *
 * @example
 * ```ts
 * import { startChVm } from "./ch_vm.ts";
 * const vm = await startChVm({ kernel: "vmlinuz", initrd: "initrd.img", rootfs: "rootfs.erofs",
 *   cpus: 2, memoryMb: 1024, runtimeDir: "/run/vm-1", bootTimeoutMs: 60000,
 *   network: { kind: "tap", ifname: "ab-0123abcd", gateway: "10.213.0.1", guest: "10.213.0.2",
 *     prefixLength: 30 } });
 * try {
 *   const run = vm.agent.exec({ argv: ["uname", "-a"] });
 * } finally {
 *   await vm.stop();
 * }
 * ```
 */
export async function startChVm(spec: VmSpec, options: ChStartOptions = {}): Promise<RunningVm> {
  // Before anything starts: a spec Cloud Hypervisor cannot run (e.g. a user network) throws here.
  const config = chVmConfig(spec);
  const files = chFiles(spec.runtimeDir);
  if (files.apiSocket.includes(",")) {
    throw new RangeError(
      `Cloud Hypervisor's API socket path may not contain ",": ${files.apiSocket}`,
    );
  }
  const process = spawnVmm(options.binary ?? cloudHypervisorBinary(), [
    "--api-socket",
    `path=${files.apiSocket}`,
  ]);
  const exited = watchExit(process);
  const guestConsole = new ConsoleTail();
  followConsole(files.consoleSocket, guestConsole, exited);
  const consoleTail = () => Promise.resolve(guestConsole.lines(CONSOLE_TAIL_LINES));
  const api = new CloudHypervisorApi(files.apiSocket);
  let agent: AgentClient | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= shutdown(api, process, exited, spec.runtimeDir).finally(() => agent?.close());

  try {
    await waitForApi(api, exited, spec.bootTimeoutMs);
    endWhenGuestStops(api, process, exited);
    if (options.restoreFrom) {
      const dir = await restorableCopy(options.restoreFrom, config, files, spec.runtimeDir);
      await api.restoreVm({ source_url: `file://${dir}` });
      await api.resumeVm();
    } else {
      await api.createVm(config);
      await api.bootVm();
    }
    agent = await bootAgent(
      (signal) => connectHybridVsockRetrying(files.vsockSocket, AGENT_VSOCK_PORT, signal),
      { timeoutMs: spec.bootTimeoutMs, exited, consoleTail },
    );
  } catch (error) {
    await stop();
    if (error instanceof CloudHypervisorError && !error.consoleTail) {
      throw new CloudHypervisorError(error.action, error.message, {
        cause: error.cause,
        status: error.status,
        consoleTail: await consoleTail(),
      });
    }
    throw error;
  }
  return {
    vmm: "cloud-hypervisor",
    agent,
    accel: { kind: "kvm" },
    channel: "vsock",
    restored: options.restoreFrom !== undefined,
    exited,
    consoleTail,
    saveState: (dir, saveOptions) => snapshot(api, dir, saveOptions),
    pause: () => api.pauseVm(),
    resume: () => api.resumeVm(),
    stop,
  };
}

/** `vmm.ping` until it answers; fails when the process exits or `timeoutMs` passes. */
async function waitForApi(
  api: CloudHypervisorApi,
  exited: Promise<VmExit>,
  timeoutMs: number,
): Promise<void> {
  let exit: VmExit | undefined;
  exited.then((e) => exit = e);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await api.ping(AbortSignal.timeout(Math.max(1, deadline - Date.now())));
      return;
    } catch (error) {
      if (exit) {
        const why = exit.stderr.split("\n")[0] || `exit status ${exit.code}`;
        throw new CloudHypervisorError("vmm.ping", `Cloud Hypervisor exited at start: ${why}`, {
          cause: error,
        });
      }
      if (Date.now() >= deadline) {
        throw new CloudHypervisorError(
          "vmm.ping",
          `Cloud Hypervisor's API did not answer within ${Math.round(timeoutMs / 1000)} s`,
          { cause: error },
        );
      }
    }
    await delay(PING_RETRY_MS);
  }
}

/** Poll `vm.info` until the VMM exits; a `Shutdown` VM (the guest powered off) ends the VMM. */
async function endWhenGuestStops(
  api: CloudHypervisorApi,
  process: Deno.ChildProcess,
  exited: Promise<VmExit>,
): Promise<void> {
  let done = false;
  exited.then(() => done = true);
  while (!done) {
    await delay(WATCH_MS);
    if (done) return;
    const info = await api.info().catch(() => undefined);
    if (info?.state === "Shutdown") {
      const timer = setTimeout(() => killVmm(process), STOP_GRACE_MS);
      await api.shutdownVmm().catch(() => {});
      await exited;
      clearTimeout(timer);
      return;
    }
  }
}

/** Pause, snapshot into `dir` (created), run `whilePaused`, resume if asked. */
async function snapshot(
  api: CloudHypervisorApi,
  dir: string,
  options: SaveOptions = {},
): Promise<void> {
  await api.pauseVm();
  try {
    await Deno.mkdir(dir, { recursive: true });
    await api.snapshotVm({ destination_url: `file://${dir}` });
    await options.whilePaused?.();
  } finally {
    if (options.resume) await api.resumeVm();
  }
}

/**
 * A copy of snapshot `source` under `runtimeDir` whose `config.json` names this VM's sockets,
 * disks, network and image files instead of the saved VM's (which may still run, or be gone with its runtime
 * directory); the other files are hard links (copies across file systems).
 */
async function restorableCopy(
  source: string,
  config: VmConfig,
  files: ChFiles,
  runtimeDir: string,
): Promise<string> {
  const dir = `${runtimeDir}/restore`;
  await Deno.mkdir(dir, { recursive: true });
  for await (const entry of Deno.readDir(source)) {
    const from = `${source}/${entry.name}`;
    const to = `${dir}/${entry.name}`;
    if (entry.name === "config.json") {
      const saved = JSON.parse(await Deno.readTextFile(from));
      const patched = {
        ...saved,
        payload: config.payload,
        disks: config.disks,
        net: config.net,
        vsock: { ...saved.vsock, socket: files.vsockSocket },
        serial: config.serial,
      };
      await Deno.writeTextFile(to, JSON.stringify(patched));
    } else if (entry.isFile) {
      await Deno.link(from, to).catch(() => Deno.copyFile(from, to));
    }
  }
  return dir;
}

async function shutdown(
  api: CloudHypervisorApi,
  process: Deno.ChildProcess,
  exited: Promise<VmExit>,
  runtimeDir: string,
): Promise<void> {
  const timer = setTimeout(() => killVmm(process), STOP_GRACE_MS);
  const gone = exited.then(() => true);
  const polite = (async () => {
    await api.shutdownVm().catch(() => {});
    await api.shutdownVmm().catch(() => {});
  })();
  await Promise.race([gone, polite]);
  await exited;
  clearTimeout(timer);
  api.close();
  await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
}
