/**
 * One sandbox session as `agentbox exec` and `agentbox run` both drive it, from the plan their
 * shared options make (sandbox_plan.ts): network session, workspace share, boot, the command, the
 * workspace's changes, and the end-of-run reports. The commands differ only in how the command's stdio meets agentbox's
 * (a {@linkcode CommandIo}: pipes, or the user's terminal) and in their defaults.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import type { ExecHandle, ExecRequest, ExecResult } from "../channel/agent_client.ts";
import { DEFAULT_IMAGE, findImage, type ImagePaths } from "../../image/store.ts";
import { agentPreset } from "../config/agent_presets.ts";
import { delay } from "../delay.ts";
import { installGuestFiles } from "../session/guest_files.ts";
import {
  type NetworkReport,
  type NetworkSession,
  type NetworkSessionOptions,
  startNetworkSession,
} from "../session/network_session.ts";
import {
  type CollectedChanges,
  startWorkspaceSession,
  type WorkspaceSession,
} from "../session/workspace_session.ts";
import { openDatabase } from "../store/database.ts";
import { findSession } from "../store/sessions.ts";
import { bootVm } from "../vm/boot.ts";
import { VmError } from "../vm/errors.ts";
import type { RunningVm } from "../vm/qemu/qemu_vm.ts";
import type { VmmKind } from "../vm/running_vm.ts";
import { loadVmSettings } from "../config/vm_settings.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { renderJson } from "../workspace/render_diff.ts";
import { type CommandHost, runAttached } from "./attached_command.ts";
import { exitStatus } from "./exit_status.ts";
import { interactiveApprover, printNetworkReport } from "./net_options.ts";
import type { SandboxPlan } from "./sandbox_plan.ts";
import { finishWorkspace } from "./workspace_options.ts";

/**
 * How the command's stdin, stdout and stderr meet agentbox's, and what agentbox does with the
 * signals it gets meanwhile: pipes for `exec`, the user's terminal for `run`.
 */
export interface CommandIo {
  /** Called right before the command starts: its stdin and terminal, if any. */
  open(): Pick<ExecRequest, "stdin" | "pty">;
  /**
   * Copy the running command's output and handle signals; `stopVm` stops the VM because of
   * `signal`. Resolves when the output has been copied.
   */
  attach(run: ExecHandle, stopVm: (signal: Deno.Signal) => Promise<void>): Promise<void>;
  /** Undo everything `open` and `attach` did (signal handlers, terminal mode). Idempotent. */
  close(): void | Promise<void>;
}

/**
 * Run one sandbox session from `plan`, wiring the command through `io`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runSandbox, sandboxPlan } from "./sandbox.ts";
 * import { pipedIo } from "./piped_io.ts";
 * const status = await runSandbox(sandboxPlan("exec", {}, ["true"], { interactive: false }), pipedIo());
 * ```
 */
export async function runSandbox(plan: SandboxPlan, io: CommandIo): Promise<number> {
  const db = openDatabase();
  try {
    return await runSession(db, plan, io);
  } finally {
    db.close();
  }
}

async function runSession(db: DatabaseSync, plan: SandboxPlan, io: CommandIo): Promise<number> {
  const started = performance.now();
  const log = plan.json ? () => {} : (line: string) => console.error(line);
  const network = await startPlanNetwork(db, plan);
  let run: RunOutcome;
  let networkReport: NetworkReport;
  const workspace = { session: undefined as WorkspaceSession | undefined };
  try {
    const image = await findImage(plan.image ?? DEFAULT_IMAGE);
    const owner = image.manifest.user;
    if (plan.share !== undefined) {
      workspace.session = await startWorkspaceSession(plan.share, sessionStateDir(network.id), {
        onProgress: (message) => log(`agentbox: ${message}`),
        owner: owner && { uid: owner.uid, gid: owner.gid },
      });
    }
    run = await bootAndRun(plan, io, { image, network, workspace: workspace.session });
  } finally {
    networkReport = await network.finish();
    if (!plan.json) printNetworkReport(networkReport);
  }
  const session = findSession(db, network.id)!;
  const applied = run.changes && workspace.session
    ? await finishWorkspace(session, workspace.session.share.root, run.changes, plan.after, log)
    : undefined;
  if (plan.json) {
    console.log(JSON.stringify({
      session: network.id,
      exitCode: run.status,
      code: run.result.code,
      signal: run.result.signal,
      timedOut: run.result.timedOut,
      changes: run.changes && workspace.session
        ? JSON.parse(renderJson(run.changes.entries, {
          session: network.id,
          root: workspace.session.share.root,
        }))
        : null,
      applied: applied ?? null,
      network: {
        backend: networkReport.backend,
        requests: networkReport.requests,
        refused: networkReport.refused,
      },
      timings: { ...run.timings, totalMs: Math.round(performance.now() - started) },
    }));
  }
  return run.status;
}

/**
 * Start the network side of a session for `plan` (the session's row, the proxies). `session`
 * names a long-lived session's id and lifecycle.
 *
 * @example
 * ```ts ignore
 * import { startPlanNetwork } from "./sandbox.ts";
 * const network = await startPlanNetwork(openDatabase(), plan);
 * ```
 */
export async function startPlanNetwork(
  db: DatabaseSync,
  plan: SandboxPlan,
  session?: NetworkSessionOptions["session"],
): Promise<NetworkSession> {
  return await startNetworkSession({
    db,
    net: plan.net,
    allow: plan.allow,
    deny: plan.deny,
    tlsInspect: plan.tlsInspect,
    backend: plan.netBackend,
    projectDir: Deno.cwd(),
    tool: plan.argv[0].split("/").at(-1),
    proxy: { approve: plan.prompts ? interactiveApprover(Deno.cwd()) : undefined },
    session,
  });
}

/**
 * Boot the VM `plan` asks for, on `network`'s egress and with `workspace` shared, and write the
 * session's files (the inspection CA) into it. The VM is stopped again if that fails.
 *
 * @example
 * ```ts ignore
 * import { bootSandboxVm } from "./sandbox.ts";
 * const vm = await bootSandboxVm(plan, network, undefined);
 * await vm.stop();
 * ```
 */
export async function bootSandboxVm(
  plan: SandboxPlan,
  network: NetworkSession,
  workspace: WorkspaceSession | undefined,
  image?: ImagePaths,
): Promise<RunningVm> {
  const vmm = plan.vmm ?? (await loadVmSettings({ projectDir: Deno.cwd() })).vmm;
  const vm = await bootVm({
    image: image ?? plan.image,
    cpus: plan.cpus,
    memoryMb: plan.memoryMb,
    vmm,
    network: network.egress?.network,
    workspace: workspace?.share,
    onWarning: printWarning,
  });
  return await withGuestFiles(vm, network);
}

/**
 * Write `network`'s files (the inspection CA) into the just started `vm` and return it; the VM
 * is stopped again if that fails.
 *
 * @example
 * ```ts ignore
 * import { withGuestFiles } from "./sandbox.ts";
 * const vm = await withGuestFiles(await startQemuVm(spec), network);
 * ```
 */
export async function withGuestFiles(vm: RunningVm, network: NetworkSession): Promise<RunningVm> {
  try {
    await installGuestFiles(vm.agent, network.guestFiles);
    return vm;
  } catch (error) {
    await vm.stop();
    throw error;
  }
}

/**
 * Print a VM layer's warning for the user.
 *
 * @example
 * ```ts
 * import { printWarning } from "./sandbox.ts";
 * printWarning("KVM is not available");
 * ```
 */
export function printWarning(message: string): void {
  console.error(`agentbox: warning: ${message}`);
}

/** How the command ended, the workspace's changes, and where the time went. */
interface RunOutcome {
  status: number;
  result: ExecResult;
  changes?: CollectedChanges;
  timings: { bootMs: number; commandMs: number; collectMs?: number };
}

async function bootAndRun(
  plan: SandboxPlan,
  io: CommandIo,
  session: { image: ImagePaths; network: NetworkSession; workspace?: WorkspaceSession },
): Promise<RunOutcome> {
  const { image, network, workspace } = session;
  const bootStart = performance.now();
  const vm = await bootSandboxVm(plan, network, workspace, image);
  try {
    const commandStart = performance.now();
    const result = await runAttached(vmHost(vm), io, {
      argv: plan.argv,
      // The user's --env wins, so a proxy variable can be overridden on purpose.
      env: { ...agentPreset(plan.argv[0])?.env, ...network.guestEnv, ...plan.env },
      cwd: plan.workdir ?? (workspace ? WORKSPACE_DIR : undefined),
      user: plan.user ?? image.manifest.user?.name,
      timeoutMs: plan.timeoutSec === undefined ? undefined : plan.timeoutSec * 1000,
    });
    const timings: RunOutcome["timings"] = {
      bootMs: Math.round(commandStart - bootStart),
      commandMs: Math.round(performance.now() - commandStart),
    };
    const collectStart = performance.now();
    const changes = await workspace?.collect(vm.agent);
    if (changes) timings.collectMs = Math.round(performance.now() - collectStart);
    return { status: exitStatus(result, plan.timeoutSec), result, changes, timings };
  } finally {
    await vm.stop();
  }
}

/** A VM this process owns, as the host of a command: giving up stops it; its death is reported. */
function vmHost(vm: RunningVm): CommandHost {
  return {
    agent: vm.agent,
    stop: () => vm.stop(),
    // Also settles after a normal exit, when the VM is stopped.
    lost: vm.exited.then(() => vmStopped(vm)),
    stopMessage: (signal) => `${signal}: stopping the VM`,
    async explain(error) {
      // Host-observed facts win over what the channel says: report the VM's death as such.
      const exit = await Promise.race([vm.exited, delay(1000)]);
      if (exit) return await vmStopped(vm, error).catch((e) => e);
      return new VmError(`Lost the VM's agent: ${error.message}`, { cause: error });
    },
  };
}

const VMM_NAMES: Record<VmmKind, string> = { qemu: "QEMU", "cloud-hypervisor": "Cloud Hypervisor" };

async function vmStopped(vm: RunningVm, cause?: unknown): Promise<never> {
  const exit = await vm.exited;
  throw new VmError(
    `The VM stopped while the command was running (${VMM_NAMES[vm.vmm]} exit status ${exit.code})`,
    { cause, consoleTail: await vm.consoleTail() },
  );
}
