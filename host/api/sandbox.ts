/**
 * The one sandbox lifecycle, used by `exec`/`run`, by a detached session's owner and by every
 * later front end: start (network session, workspace share, VM booted or restored, the session's
 * files in the guest) → a {@linkcode Sandbox} to exec in, collect changes from, snapshot → stop,
 * which returns the network's report. The defaults every command in a sandbox gets (the agent
 * preset's environment, the proxy variables, the user's `env`, the image's user, the working
 * directory) are decided here, once.
 *
 * No terminal: what the user should hear goes to the context's event sink.
 *
 * @module
 */

import { imageNodeVersion, nodeVersionWarning, requestedNode } from "../workspace/node_version.ts";
import type { ConfirmLearned } from "../config/learned_allowlist.ts";
import { WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import { findImage, type ImagePaths } from "../../image/store.ts";
import {
  type AgentError,
  type ExecHandle,
  type ExecRequest,
  type ExecResult,
} from "../channel/agent_client.ts";
import { loadAgentSettings } from "../config/agent_config.ts";
import { resolveAgent } from "../config/agent_profile.ts";
import { type AgentInGuest, prepareAgent } from "./agents.ts";
import { type ApprovalQueueOptions, queueApprover } from "./approvals.ts";
import { loadVmSettings } from "../config/vm_settings.ts";
import { findProjectFile } from "../config/project_file.ts";
import { loadShareSettings } from "../config/share_settings.ts";
import { loadWorkspaceLimits } from "../config/workspace_settings.ts";
import { delay } from "../delay.ts";
import type { ApprovalRequest } from "../proxy/proxy_context.ts";
import type { ExecDefaults } from "../session/control_server.ts";
import { installGuestFiles } from "../session/guest_files.ts";
import { type PortForward, startPortForward } from "../session/port_forward.ts";
import { formatForwardAddress, type PortMapping } from "../net/port_mapping.ts";
import { tryOwnerLock } from "../session/owner_lock.ts";
import { sessionPaths } from "../session/session_paths.ts";
import {
  type FinishOptions,
  type NetworkReport,
  type NetworkSession,
  type NetworkSessionOptions,
  startNetworkSession,
} from "../session/network_session.ts";
import { pinLowerImage, pinnedLower } from "../session/pinned_lower.ts";
import {
  adoptSnapshotWorkspace,
  restoreSessionVm,
  saveSessionSnapshot,
} from "../session/session_snapshot.ts";
import type { SnapshotInfo } from "../session/snapshot_store.ts";
import {
  COLLECT_AFTER_TIMEOUT_MS,
  type CollectedChanges,
  type CollectOptions,
  resumeWorkspaceSession,
  startWorkspaceSession,
  type WorkspaceSession,
} from "../session/workspace_session.ts";
import { bootVm } from "../vm/boot.ts";
import { VmError } from "../vm/errors.ts";
import { fitsPlaceholders, mountsLayers } from "../vm/workspace_disks.ts";
import { NO_DELTA_LAYERS } from "../workspace/share_layers.ts";
import type { RunningVm, VmmKind } from "../vm/running_vm.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { type CollectedSystemChanges, collectSystemChanges } from "../system/system_changeset.ts";
import {
  auditedApprover,
  auditExec,
  auditReady,
  emitAudit,
  errorInfo,
  type SessionAuditor,
  sessionAuditor,
} from "./audit.ts";
import type { ApiContext } from "./context.ts";
import type { SandboxSpec } from "./sandbox_spec.ts";
import type { WarmSource, WarmVm } from "./warm_pool.ts";
import { loadPolicy } from "../config/load_config.ts";
import { resolveNetBackend } from "../net/net_backend.ts";

/** Options of {@linkcode startSandbox}. */
export interface StartSandboxOptions {
  /** A long-lived session's id and lifecycle; default a one-shot session with a new id. */
  session?: NetworkSessionOptions["session"];
  /** Decide graylisted destinations (a prompt); absent, and no `approvals`: they are refused. */
  approve?: (request: ApprovalRequest) => Promise<boolean>;
  /**
   * Ask graylisted destinations through the approval queue (api/approvals.ts), each waiting at
   * most `timeoutMs` (default 30 s) for `agentbox approve` or the server — and `alsoAsk` (a
   * terminal) when given; used when no `approve` is given.
   */
  approvals?: Omit<ApprovalQueueOptions, "projectDir">;
  /**
   * `--net learn`: say yes before the learned hosts widen `.agentbox.toml` (the user's answer,
   * `--yes`); absent: they are only reported (`NetworkReport.learned.declined`).
   */
  confirmLearned?: ConfirmLearned;
  /**
   * Keep the share's lower image for the session's life (a detached session's crash recovery),
   * and its upper disk after the changes are collected (so `agentbox start` can boot over it).
   */
  pinLower?: boolean;
  /**
   * Boot over the session's own workspace disks (its pinned lower image and kept upper disk)
   * instead of sharing the project afresh: a stopped session started again.
   */
  resumeWorkspace?: boolean;
  /** Continue from this snapshot (a fork) instead of booting. */
  restore?: SnapshotInfo;
  /** `runSandbox`: collect the root filesystem's changes too (`--system-diff`). */
  systemChanges?: boolean;
  /**
   * Take a warm VM from here (warm_pool.ts) instead of restoring one, when the sandbox fits: no
   * ports, no snapshot, QEMU, a network, the pool's image, shape and network backend, and a share
   * (if any) whose disks fit the template's placeholders. Otherwise, or when none is ready, the VM
   * starts as usual.
   */
  warm?: WarmSource;
}

/** A running sandbox. */
export interface Sandbox {
  readonly id: string;
  readonly spec: SandboxSpec;
  readonly image: ImagePaths;
  readonly vm: RunningVm;
  readonly network: NetworkSession;
  readonly workspace?: WorkspaceSession;
  /** What every command starts with under its own settings. */
  readonly defaults: ExecDefaults;
  /** The spec's own command, as a request (its argv and timeout). */
  command(): ExecRequest;
  /** Run `request` with the sandbox's defaults under its own settings. */
  exec(request: ExecRequest): ExecHandle;
  /** Rejects with the VM's death when the VMM exits; pends while it runs. */
  readonly lost: Promise<never>;
  /** The error to report for a broken agent connection: the VM's death when it died. */
  explain(error: AgentError): Promise<Error>;
  /**
   * Fetch and store the workspace's changes (once); `undefined` when nothing is shared.
   * `options.deadline` bounds the transfer (see `CollectOptions`).
   */
  collectChanges(options?: CollectOptions): Promise<CollectedChanges | undefined>;
  /**
   * Forward a host port into the guest (docs/sessions.md, "Ports") for the sandbox's life. Throws
   * `PortForwardError` (`port_unavailable`).
   */
  forwardPort(mapping: PortMapping): PortForward;
  /** The forwards open now: the spec's `ports`, then those opened later. */
  readonly forwards: readonly PortForward[];
  /**
   * Fetch and store the root filesystem's changes (`agentbox diff --system`), replacing an
   * earlier collection. Throws `NoRootOverlayError` for an image that cannot, `ChangesetError`.
   */
  collectSystemChanges(options?: CollectOptions): Promise<CollectedSystemChanges>;
  /** Save the VM and its disks into the empty directory `dir`; the sandbox runs on. */
  saveSnapshot(dir: string, source: { name: string | null }): Promise<void>;
  /**
   * Stop the VM and the network (idempotent: the first call's options count); the network's
   * report. With `onTeardown`, the report comes before the network's host side is removed
   * (`NetworkSession.finish`).
   */
  stop(options?: FinishOptions): Promise<NetworkReport>;
}

/**
 * The defaults of every command in a sandbox of `spec`: the agent's environment (`agentEnv`, its
 * profile's: agent_profile.ts) under the proxy's variables under the user's `env` (so a proxy
 * variable can be overridden on purpose),
 * the workspace (when shared) as working directory, the image's default user.
 *
 * @example
 * ```ts
 * import { execDefaults } from "./sandbox.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * import type { SandboxSpec } from "./sandbox_spec.ts";
 * declare const spec: SandboxSpec, image: ImagePaths, network: { guestEnv: Record<string, string> };
 * const defaults = execDefaults(spec, image, network.guestEnv, true);
 * ```
 */
export function execDefaults(
  spec: Pick<SandboxSpec, "argv" | "env" | "workdir" | "user">,
  image: Pick<ImagePaths, "manifest">,
  guestEnv: Record<string, string>,
  shared: boolean,
  agentEnv: Record<string, string> = {},
): ExecDefaults {
  return {
    env: { ...agentEnv, ...guestEnv, ...spec.env },
    cwd: spec.workdir ?? (shared ? WORKSPACE_DIR : undefined),
    user: spec.user ?? image.manifest.user?.name,
  };
}

/**
 * Start a sandbox for `spec`. Everything started is stopped again when a later step fails.
 * Throws `ImageError`, `ConfigError`, `ShareError`, `VmError`, `SnapshotError` (all
 * `AgentboxError`s).
 *
 * @example
 * ```ts
 * import { startSandbox } from "./sandbox.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * import type { SandboxSpec } from "./sandbox_spec.ts";
 * declare const spec: SandboxSpec;
 * const sandbox = await startSandbox(ctx, spec);
 * try {
 *   const run = sandbox.exec(sandbox.command());
 *   console.log(await run.result);
 * } finally {
 *   await sandbox.stop();
 * }
 * ```
 */
export async function startSandbox(
  ctx: ApiContext,
  spec: SandboxSpec,
  options: StartSandboxOptions = {},
): Promise<Sandbox> {
  // An invalid [audit] table refuses the work rather than losing its trail.
  await auditReady(ctx);
  const started = performance.now();
  // Looked up first: a missing image costs nothing else. Its user owns the share in the guest.
  const image = await findImage(options.restore?.manifest.vm.image ?? spec.image);
  const name = options.session?.lifecycle?.name ?? undefined;
  if (spec.share !== undefined && !options.restore) {
    await warnNodeVersion(ctx, spec.share, image);
  }
  // The project's .agentbox.toml, found above the project directory as git finds .git.
  const project = await findProjectFile(spec.projectDir);
  const agentSettings = await loadAgentSettings({ projectDir: spec.projectDir });
  const agent = resolveAgent(spec.argv[0], { env: spec.env, presets: agentSettings.presets });
  // A warm VM (warm_pool.ts) comes with its network's host side, made for a session id of its
  // own: the session takes that id.
  const warm = await claimWarmVm(spec, options, project.dir, image);
  // The queue records each question under the session's id, so it is chosen here.
  const sessionId = options.session?.id ?? warm?.link.sessionId ?? crypto.randomUUID();
  const queue = !options.approve && options.approvals
    ? queueApprover(ctx, sessionId, { ...options.approvals, projectDir: spec.projectDir })
    : undefined;
  const network = await startNetworkSession({
    db: ctx.db,
    credentials: spec.credentials,
    net: spec.net,
    allow: spec.allow,
    deny: spec.deny,
    tlsInspect: spec.tlsInspect,
    trustHostCa: spec.trustHostCa,
    backend: spec.netBackend,
    projectDir: spec.projectDir,
    configDir: project.dir,
    tool: spec.argv[0].split("/").at(-1),
    agent,
    agents: agentSettings.presets,
    proxy: {
      approve: options.approve
        ? auditedApprover(ctx, () => audit, options.approve)
        // The queue's answers are audited where they are recorded (approvals.ts), with who.
        : queue && auditedApprover(ctx, () => audit, queue.approve, { decidedElsewhere: true }),
    },
    confirmLearned: options.confirmLearned,
    session: { ...options.session, id: sessionId },
    egressLink: warm?.link,
    onDecision: (start) =>
      emitAudit(ctx, {
        type: "egress.decision",
        session: name ? { id: start.session, name } : { id: start.session },
        method: start.method,
        scheme: start.scheme,
        host: start.host,
        port: start.port,
        decision: start.decision,
        rule: start.rule,
        kind: start.kind ?? "request",
      }),
  }).catch(async (error) => {
    queue?.close();
    await warm?.discard();
    throw error;
  });
  const audit = sessionAuditor(ctx, { id: network.id, name });
  audit({
    type: "sandbox.created",
    image: image.name,
    project: spec.projectDir,
    detached: options.session !== undefined,
  });
  // A one-shot run holds its session's lock while it lives, as an owner does: `ps -a` tells a
  // running one from one whose process died, and `rm`/`prune` leave it alone.
  const lock = options.session ? undefined : await holdOneShotLock(network.id);
  // What ends with the sandbox besides its VM and network: the lock, the questions still waiting.
  const oneShot = {
    async release() {
      queue?.close();
      await lock?.release();
    },
  };
  try {
    const stateDir = sessionStateDir(network.id);
    const { vm, workspace } = options.restore
      ? await restoreVm(ctx, options.restore, stateDir, network)
      : await bootNewVm(ctx, spec, {
        image,
        network,
        stateDir,
        configDir: project.dir,
        pinLower: options.pinLower,
        resumeWorkspace: options.resumeWorkspace,
        warm,
      });
    const defaults = execDefaults(
      spec,
      image,
      network.guestEnv,
      workspace !== undefined,
      agent?.env,
    );
    let prepared: AgentInGuest | undefined;
    let box: Sandbox | undefined;
    try {
      await installGuestFiles(vm.agent, network.guestFiles);
      if (agent) {
        prepared = await prepareAgent(vm.agent, {
          agent,
          homeScope: agentSettings.homeScope,
          projectDir: spec.projectDir,
          user: defaults.user,
          home: guestHome(image, defaults.user),
          workdir: defaults.cwd ?? guestHome(image, defaults.user),
          env: defaults.env,
          restore: options.restore === undefined,
          onWarning: (message) => ctx.onEvent({ type: "warning", message }),
        });
      }
      box = sandbox(spec, image, vm, network, workspace, {
        defaults,
        agent: prepared,
        oneShot,
        audit,
      });
      for (const mapping of spec.ports) {
        const forward = box.forwardPort(mapping);
        ctx.onEvent({
          type: "progress",
          message: `forwarding ${formatForwardAddress(forward.hostname, forward.hostPort)} to ` +
            `guest port ${forward.guestPort}`,
        });
      }
    } catch (error) {
      await Promise.all(box?.forwards.map((f) => f.close()) ?? []);
      await vm.stop();
      throw error;
    }
    audit({
      type: "sandbox.started",
      restored: options.restore !== undefined,
      startMs: Math.round(performance.now() - started),
    });
    return box!;
  } catch (error) {
    await warm?.discard();
    await network.finish().catch(() => {});
    await oneShot.release();
    audit({ type: "sandbox.failed", error: errorInfo(error) });
    throw error;
  }
}

/**
 * A warm VM from `options.warm` when the sandbox is one it can serve (see `warm`), for the network
 * backend its session will resolve to.
 */
async function claimWarmVm(
  spec: SandboxSpec,
  options: StartSandboxOptions,
  configDir: string,
  image: ImagePaths,
): Promise<WarmVm | undefined> {
  if (!options.warm || options.restore || options.resumeWorkspace || options.session?.reopen) {
    return undefined;
  }
  if (spec.net === "none" || spec.ports.length > 0) return undefined;
  const vmm = spec.vmm ?? (await loadVmSettings({ projectDir: configDir })).vmm ?? "qemu";
  if (vmm !== "qemu") return undefined;
  // As startNetworkSession resolves it (a configuration error is its to report).
  const choice = await loadPolicy({ projectDir: configDir, backend: spec.netBackend })
    .then((policy) => policy.backend, () => undefined);
  if (choice === undefined) return undefined;
  const backend = await resolveNetBackend(choice).catch(() => undefined);
  if (backend === undefined) return undefined;
  return await options.warm.claim({
    image: image.name,
    cpus: spec.cpus,
    memoryMb: spec.memoryMb,
    backend,
    sessionId: options.session?.id,
  });
}

/** Take one-shot session `id`'s lock; `release` gives it back and removes its runtime files. */
async function holdOneShotLock(id: string): Promise<{ release(): Promise<void> }> {
  const paths = sessionPaths(id);
  const lock = await tryOwnerLock(paths.lock);
  return {
    async release() {
      await Deno.remove(paths.runtime, { recursive: true }).catch(() => {});
      lock?.release();
    },
  };
}

/** How a one-shot sandbox's command ended, its changes, its network, and where the time went. */
export interface SandboxRun {
  id: string;
  result: ExecResult;
  changes?: CollectedChanges;
  /** The shared directory the changes are against. */
  root?: string;
  network: NetworkReport;
  timings: { bootMs: number; commandMs: number; collectMs?: number; totalMs: number };
  /** With `systemChanges`: what was collected of the root filesystem's changes. */
  system?: CollectedSystemChanges;
}

/**
 * A one-shot sandbox (`exec`, `run`): start it, let `command` run the spec's command in it (the
 * edge wires the command's stdio), collect the workspace's changes, stop. The VM and network are
 * stopped however it ends.
 *
 * @example
 * ```ts
 * import { runSandbox } from "./sandbox.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * import type { SandboxSpec } from "./sandbox_spec.ts";
 * declare const spec: SandboxSpec;
 * const run = await runSandbox(ctx, spec, (sandbox) => sandbox.exec(sandbox.command()).result);
 * console.log(run.result.code, run.changes?.entries.length);
 * ```
 */
export async function runSandbox(
  ctx: ApiContext,
  spec: SandboxSpec,
  command: (sandbox: Sandbox) => Promise<ExecResult>,
  options: StartSandboxOptions = {},
): Promise<SandboxRun> {
  const started = performance.now();
  const box = await startSandbox(ctx, spec, options);
  let result: ExecResult;
  let changes: CollectedChanges | undefined;
  let system: CollectedSystemChanges | undefined;
  const timings: Omit<SandboxRun["timings"], "totalMs"> = { bootMs: 0, commandMs: 0 };
  try {
    const commandStart = performance.now();
    timings.bootMs = Math.round(commandStart - started);
    // The spec's timeout bounds the whole run: collecting the changes too.
    const deadline = spec.timeoutSec === undefined
      ? undefined
      : Date.now() + spec.timeoutSec * 1000 + COLLECT_AFTER_TIMEOUT_MS;
    result = await command(box);
    timings.commandMs = Math.round(performance.now() - commandStart);
    const collectStart = performance.now();
    changes = await box.collectChanges({ deadline });
    if (options.systemChanges) system = await box.collectSystemChanges({ deadline });
    if (changes || system) timings.collectMs = Math.round(performance.now() - collectStart);
  } catch (error) {
    // The VM and the proxies never outlive a failure; its report goes with it.
    await box.stop().catch(() => {});
    throw error;
  }
  const network = await box.stop();
  return {
    id: box.id,
    result,
    changes,
    root: box.workspace?.share.root,
    network,
    timings: { ...timings, totalMs: Math.round(performance.now() - started) },
    system,
  };
}

async function bootNewVm(
  ctx: ApiContext,
  spec: SandboxSpec,
  parts: {
    image: ImagePaths;
    network: NetworkSession;
    stateDir: string;
    configDir: string;
    pinLower?: boolean;
    resumeWorkspace?: boolean;
    warm?: WarmVm;
  },
): Promise<{ vm: RunningVm; workspace?: WorkspaceSession }> {
  const { image, network, configDir } = parts;
  // The warm VM only runs on the network made with it (the session's egress serves it).
  let warm = parts.warm;
  if (warm && network.egress?.network !== warm.link.network) {
    await warm.discard();
    warm = undefined;
  }
  const workspace = await prepareWorkspace(ctx, spec, parts).catch(async (error) => {
    await warm?.discard();
    throw error;
  });
  if (warm && (!workspace || await fitsPlaceholders(workspace.share))) {
    // Its guest network was configured for this network while it was warmed (warm_pool.ts); a
    // share's disks replace its placeholders.
    const vm = await warm.resume({ workspace: workspace?.share }).catch((error) => {
      ctx.onEvent({
        type: "warning",
        message: `the warm VM did not resume (${(error as Error).message}): starting another`,
      });
      return undefined;
    });
    if (vm) return { vm, workspace };
  }
  // Discarding one that was resumed (and stopped when it failed) does nothing.
  await warm?.discard();
  const settings = await loadVmSettings({ projectDir: configDir });
  const vmm = spec.vmm ?? settings.vmm;
  const vm = await (ctx.startVm ?? bootVm)({
    kvmWarning: settings.kvmWarning,
    image,
    cpus: spec.cpus,
    memoryMb: spec.memoryMb,
    vmm,
    network: network.egress?.network,
    workspace: workspace?.share,
    onWarning: (message) => ctx.onEvent({ type: "warning", message }),
  });
  return { vm, workspace };
}

/** The sandbox's workspace, when it shares a directory: fresh, or the session's own (resumed). */
async function prepareWorkspace(
  ctx: ApiContext,
  spec: SandboxSpec,
  parts: {
    image: ImagePaths;
    stateDir: string;
    configDir: string;
    pinLower?: boolean;
    resumeWorkspace?: boolean;
  },
): Promise<WorkspaceSession | undefined> {
  const { image, stateDir, configDir } = parts;
  const owner = image.manifest.user;
  let workspace: WorkspaceSession | undefined;
  if (spec.share !== undefined && parts.resumeWorkspace) {
    workspace = await resumeWorkspaceSession(stateDir, {
      ...await pinnedLower(stateDir),
      upperDisk: changesetPaths(stateDir).upperDisk,
    }, { keepUpperDisk: true });
  } else if (spec.share !== undefined) {
    workspace = await startWorkspaceSession(spec.share, stateDir, {
      limits: await loadWorkspaceLimits({ projectDir: configDir }),
      exclude: (await loadShareSettings({ projectDir: configDir })).exclude.map((p) => p.value),
      onProgress: (message) => ctx.onEvent({ type: "progress", message }),
      onStep: (message, fraction) => ctx.onEvent({ type: "step-progress", message, fraction }),
      owner: owner && { uid: owner.uid, gid: owner.gid },
      keepUpperDisk: parts.pinLower,
      // An image from before delta layers mounts only a full image.
      layers: mountsLayers(image.manifest) ? undefined : NO_DELTA_LAYERS,
    });
    if (parts.pinLower) await pinLowerImage(workspace.share, stateDir);
  }
  return workspace;
}

async function restoreVm(
  ctx: ApiContext,
  snapshot: SnapshotInfo,
  stateDir: string,
  network: NetworkSession,
): Promise<{ vm: RunningVm; workspace?: WorkspaceSession }> {
  const workspace = await adoptSnapshotWorkspace(snapshot.dir, stateDir);
  const vm = await restoreSessionVm(snapshot.dir, snapshot.manifest, {
    network: network.egress?.network,
    workspace,
    onWarning: (message) => ctx.onEvent({ type: "warning", message }),
  });
  return { vm, workspace };
}

function sandbox(
  spec: SandboxSpec,
  image: ImagePaths,
  vm: RunningVm,
  network: NetworkSession,
  workspace: WorkspaceSession | undefined,
  parts: {
    defaults: ExecDefaults;
    agent?: AgentInGuest;
    oneShot: { release(): Promise<void> } | undefined;
    audit: SessionAuditor;
  },
): Sandbox {
  const { defaults, agent, oneShot, audit } = parts;
  let collected: Promise<CollectedChanges | undefined> | undefined;
  let stopped: Promise<NetworkReport> | undefined;
  const forwards: PortForward[] = [];
  // Also settles after a normal stop.
  const lost = vm.exited.then(() => vmStopped(vm));
  lost.catch(() => {});
  return {
    id: network.id,
    spec,
    image,
    vm,
    network,
    workspace,
    defaults,
    lost,
    command: () => ({
      argv: spec.argv,
      timeoutMs: spec.timeoutSec === undefined ? undefined : spec.timeoutSec * 1000,
    }),
    exec(request) {
      const full = {
        ...request,
        env: { ...defaults.env, ...request.env },
        cwd: request.cwd ?? defaults.cwd,
        user: request.user ?? defaults.user,
      };
      return auditExec(audit, full, vm.agent.exec(full));
    },
    async explain(error) {
      // Host-observed facts win over what the channel says: report the VM's death as such.
      const exit = await Promise.race([vm.exited, delay(1000)]);
      if (exit) return await vmStopped(vm, error).catch((e) => e);
      return new VmError(`Lost the VM's agent: ${error.message}`, {
        cause: error,
        code: "agent_lost",
      });
    },
    collectChanges(options) {
      collected ??= workspace ? workspace.collect(vm.agent, options) : Promise.resolve(undefined);
      return collected;
    },
    forwards,
    forwardPort(mapping) {
      if (stopped) throw new VmError("The sandbox is stopping", { code: "vm_stopping" });
      const forward = startPortForward(vm.agent, mapping);
      forwards.push(forward);
      return forward;
    },
    collectSystemChanges: (options) =>
      collectSystemChanges(vm.agent, sessionStateDir(network.id), options),
    saveSnapshot: (dir, source) =>
      saveSessionSnapshot(vm, dir, {
        id: network.id,
        name: source.name,
        spec,
        vm: { image: image.name, cpus: spec.cpus, memoryMb: spec.memoryMb },
        workspace,
      }),
    stop(stopOptions) {
      // The agent's home is saved while the VM still runs (a no-op when it is not kept or the
      // VM is gone: the previous home stays). The forwards die with the sandbox: no listener
      // outlives its VM.
      const saveHome = agent ? agent.save() : Promise.resolve();
      stopped ??= saveHome.then(() => Promise.all(forwards.map((f) => f.close())))
        .then(() => vm.stop()).then(
          () => network.finish(stopOptions),
          async (error) => {
            await network.finish().catch(() => {});
            throw error;
          },
        ).then((report) => {
          audit({
            type: "sandbox.stopped",
            requests: report.requests,
            refused: report.refused.reduce((sum, r) => sum + r.count, 0),
          });
          return report;
        }).finally(() => oneShot?.release());
      return stopped;
    },
  };
}

/** The home directory of `user` (the image's own user, root, or another one) in the guest. */
function guestHome(image: ImagePaths, user: string | undefined): string {
  if (user === undefined || user === "root") return "/root";
  return image.manifest.user?.name === user ? image.manifest.user.home : `/home/${user}`;
}

const VMM_NAMES: Record<VmmKind, string> = { qemu: "QEMU", "cloud-hypervisor": "Cloud Hypervisor" };

async function vmStopped(vm: RunningVm, cause?: unknown): Promise<never> {
  const exit = await vm.exited;
  throw new VmError(
    `The VM stopped while the command was running (${VMM_NAMES[vm.vmm]} exit status ${exit.code})`,
    { cause, consoleTail: await vm.consoleTail(), code: "vm_died" },
  );
}

export { allowHostForProject } from "./approvals.ts";

/** Say when the shared project asks for another Node than the image's (node_version.ts). */
async function warnNodeVersion(ctx: ApiContext, share: string, image: ImagePaths): Promise<void> {
  const requested = await requestedNode(share).catch(() => undefined);
  if (!requested) return;
  const message = nodeVersionWarning(requested, image.name, imageNodeVersion(image.manifest));
  if (message) ctx.onEvent({ type: "warning", message });
}
