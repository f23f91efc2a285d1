/**
 * `agentbox session-daemon ID` (hidden): the owner of a detached session. `agentbox run --detach`
 * starts it in a session of its own (`setsid`), its stdout and stderr going to the session's
 * `owner.log`. It takes the session's lock before anything else exists, then records the session,
 * starts its network, shares its workspace, boots the VM (QEMU dies with this process), serves
 * the control socket, and waits. A session restored from a snapshot (`agentbox snapshot restore`)
 * gets its own copy of the snapshot's disks and its VM restored instead of booted; a running
 * owner saves snapshots when asked over its control socket. On SIGTERM (`agentbox stop`) it collects the workspace's
 * changes, stops the VM and records `stopped`; if the VM stops on its own it records that too.
 *
 * @module
 */

import { DEFAULT_IMAGE, findImage, type ImagePaths } from "../../image/store.ts";
import { WORKSPACE_DIR } from "../../guest-agent/workspace/layout.ts";
import { openCappedLog } from "../session/capped_log.ts";
import { type ControlServer, type ExecDefaults, serveControl } from "../session/control_server.ts";
import type { NetworkSession } from "../session/network_session.ts";
import { tryOwnerLock } from "../session/owner_lock.ts";
import { takePlanFile } from "../session/plan_file.ts";
import { pinLowerImage, pinnedLowerPath } from "../session/pinned_lower.ts";
import { type SessionPaths, sessionPaths } from "../session/session_paths.ts";
import {
  adoptSnapshotWorkspace,
  restoreSessionVm,
  saveSessionSnapshot,
} from "../session/session_snapshot.ts";
import { readSnapshot } from "../session/snapshot_store.ts";
import { startWorkspaceSession, type WorkspaceSession } from "../session/workspace_session.ts";
import { openDatabase } from "../store/database.ts";
import { setSessionStatus } from "../store/session_lifecycle.ts";
import type { RunningVm } from "../vm/qemu/qemu_vm.ts";
import { exitStatusFor, reportError, UsageError } from "./errors.ts";
import { bootSandboxVm, printWarning, startPlanNetwork, withGuestFiles } from "./sandbox.ts";
import type { SandboxPlan } from "./sandbox_plan.ts";

/** What `run --detach` hands to the owner (in `plan.json`, mode 0600, removed once read). */
export interface DetachedSpec {
  id: string;
  name?: string;
  plan: SandboxPlan;
  /** Run `plan.argv` when the session is up, its output going to `command.log`. */
  runCommand: boolean;
  /** Start from this snapshot (`agentbox snapshot restore`) instead of booting. */
  restore?: string;
}

/**
 * Own session `args[0]` until it is stopped; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { sessionDaemonCommand } from "./session_daemon.ts";
 * Deno.exit(await sessionDaemonCommand(["0f3c2a9e-…"]));
 * ```
 */
export async function sessionDaemonCommand(args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError("session-daemon takes one session id");
  const paths = sessionPaths(args[0]);
  const lock = await tryOwnerLock(paths.lock);
  if (!lock) throw new UsageError(`Session ${args[0]} already has an owner`);
  // From here on the owner is this process: stop requests wait until the VM is up.
  const stop = Promise.withResolvers<void>();
  const onStop = () => stop.resolve();
  Deno.addSignalListener("SIGTERM", onStop);
  Deno.addSignalListener("SIGINT", onStop);
  Deno.addSignalListener("SIGHUP", () => {}); // No terminal to lose; keep running.
  try {
    const spec = await takePlanFile(paths.plan) as DetachedSpec;
    await own(spec, paths, stop.promise);
    return 0;
  } catch (error) {
    reportError(error, true);
    return exitStatusFor(error);
  } finally {
    Deno.removeSignalListener("SIGTERM", onStop);
    Deno.removeSignalListener("SIGINT", onStop);
    await Deno.remove(paths.runtime, { recursive: true }).catch(() => {});
    lock.release();
  }
}

async function own(spec: DetachedSpec, paths: SessionPaths, stopped: Promise<void>) {
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  const db = openDatabase();
  const network = await startPlanNetwork(db, spec.plan, {
    id: spec.id,
    lifecycle: { name: spec.name, ownerPid: Deno.pid },
  });
  log(`session ${spec.id} booting`);
  let detail: string | undefined;
  try {
    detail = await bootAndServe(spec, paths, network, stopped, log, (controlSocket) => {
      setSessionStatus(db, spec.id, "running", { controlSocket });
      log("session running");
    });
  } catch (error) {
    setSessionStatus(db, spec.id, "failed", { detail: (error as Error).message ?? `${error}` });
    throw error;
  } finally {
    await network.finish();
  }
  setSessionStatus(db, spec.id, "stopped", { detail });
  log(`session stopped${detail ? `: ${detail}` : ""}`);
  db.close();
}

/** Boot, serve until stopped; returns a detail worth recording (how the VM ended), if any. */
async function bootAndServe(
  spec: DetachedSpec,
  paths: SessionPaths,
  network: NetworkSession,
  stopped: Promise<void>,
  log: (line: string) => void,
  onRunning: (controlSocket: string) => void,
): Promise<string | undefined> {
  const plan = spec.plan;
  // Looked up once: its default user and the share's owner both come from its manifest.
  const image = await findImage(plan.image ?? DEFAULT_IMAGE);
  const { vm, workspace } = spec.restore === undefined
    ? await bootSession(plan, image, paths, network, log)
    : await restoreSession(spec.restore, paths, network, log);
  let server: ControlServer | undefined;
  try {
    const defaults: ExecDefaults = {
      // The user's --env wins, so a proxy variable can be overridden on purpose.
      env: { ...network.guestEnv, ...plan.env },
      cwd: plan.workdir ?? (workspace ? WORKSPACE_DIR : undefined),
      user: plan.user ?? image.manifest.user?.name,
    };
    const source = { id: spec.id, name: spec.name ?? null, plan, workspace };
    server = serveControl(paths.controlSocket, vm.agent, defaults, {
      saveSnapshot: async (dir) => {
        log(`saving a snapshot into ${dir}`);
        await saveSessionSnapshot(vm, dir, source);
        log("snapshot saved");
      },
    });
    onRunning(paths.controlSocket);
    if (spec.runCommand) startFirstCommand(vm, defaults, plan, `${paths.state}/command.log`, log);
    const end = await Promise.race([stopped.then(() => "stop" as const), vm.exited]);
    await server.close();
    if (end !== "stop") {
      return `the VM stopped on its own (QEMU exit status ${end.code}); its workspace can be ` +
        "recovered with `agentbox diff`";
    }
    log("stopping: collecting the workspace's changes");
    if (workspace) {
      const changes = await workspace.collect(vm.agent);
      await Deno.remove(pinnedLowerPath(paths.state)).catch(() => {});
      log(`collected ${changes.entries.length} changes (${changes.bytes} bytes)`);
    }
    return undefined;
  } finally {
    await server?.close();
    await vm.stop();
  }
}

/** A fresh session: share the workspace, boot the VM. */
async function bootSession(
  plan: SandboxPlan,
  image: ImagePaths,
  paths: SessionPaths,
  network: NetworkSession,
  log: (line: string) => void,
): Promise<{ vm: RunningVm; workspace?: WorkspaceSession }> {
  const owner = image.manifest.user;
  let workspace: WorkspaceSession | undefined;
  if (plan.share !== undefined) {
    workspace = await startWorkspaceSession(plan.share, paths.state, {
      onProgress: log,
      // The share belongs to the image's default user, as for exec and run.
      owner: owner && { uid: owner.uid, gid: owner.gid },
    });
    await pinLowerImage(workspace.share.lowerImage, paths.state);
  }
  return { vm: await bootSandboxVm(plan, network, workspace, image), workspace };
}

/** A fork of snapshot `name`: its own copies of the snapshot's disks, the VM restored. */
async function restoreSession(
  name: string,
  paths: SessionPaths,
  network: NetworkSession,
  log: (line: string) => void,
): Promise<{ vm: RunningVm; workspace?: WorkspaceSession }> {
  const snapshot = await readSnapshot(name);
  log(`restoring snapshot ${name} of session ${snapshot.manifest.source.id}`);
  const workspace = await adoptSnapshotWorkspace(snapshot.dir, paths.state);
  const vm = await restoreSessionVm(snapshot.dir, snapshot.manifest, {
    network: network.egress?.network,
    workspace,
    onWarning: printWarning,
  });
  return { vm: await withGuestFiles(vm, network), workspace };
}

/** The session's first command, in the background; its output goes to `logPath`. */
function startFirstCommand(
  vm: RunningVm,
  defaults: ExecDefaults,
  plan: SandboxPlan,
  logPath: string,
  log: (line: string) => void,
): void {
  (async () => {
    const output = await openCappedLog(logPath);
    try {
      const run = vm.agent.exec({
        argv: plan.argv,
        env: defaults.env,
        cwd: defaults.cwd,
        timeoutMs: plan.timeoutSec === undefined ? undefined : plan.timeoutSec * 1000,
      });
      await Promise.all([run.stdout.pipeTo(output.writer()), run.stderr.pipeTo(output.writer())]);
      const result = await run.result;
      log(`command ${JSON.stringify(plan.argv[0])} ended: ${JSON.stringify(result)}`);
    } finally {
      output.close();
    }
  })().catch((error) => log(`command failed: ${error.message ?? error}`));
}
