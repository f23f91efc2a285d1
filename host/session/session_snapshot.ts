/**
 * A session owner's side of snapshots: save its running VM with its disks into a snapshot
 * directory (host/session/snapshot_store.ts), and start a new session's VM from one — a fork:
 * the new session works on its own copies of the snapshot's disks, so any number of sessions
 * restored from one snapshot, and the session it came from, go their own ways.
 *
 * @module
 */

import { findImage } from "../../image/store.ts";
import { makeVmRuntimeDir } from "../paths.ts";
import { qemuSetup, type RunningVm, startQemuVm } from "../vm/qemu/qemu_vm.ts";
import { VmError } from "../vm/errors.ts";
import { configureGuestNetwork } from "../vm/guest_network.ts";
import { VM_DEFAULTS, type VmNetwork } from "../vm/spec.ts";
import { imageDigest, templateShape } from "../vm/template.ts";
import { placeholderWorkspace, workspaceDisks } from "../vm/workspace_disks.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { pinnedLayersPath, pinnedLower, pinnedLowerPath } from "./pinned_lower.ts";
import {
  copySparse,
  SNAPSHOT_FORMAT,
  type SnapshotDisks,
  SnapshotError,
  snapshotFiles,
  type SnapshotManifest,
  type SnapshotVm,
} from "./snapshot_store.ts";
import { resumeWorkspaceSession, type WorkspaceSession } from "./workspace_session.ts";

/** What the owner knows about its session, for the manifest. */
export interface SnapshotSource {
  id: string;
  name: string | null;
  /** The session's request, recorded as it is (the core validates it on restore). */
  spec: unknown;
  vm: SnapshotVm;
  workspace?: WorkspaceSession;
}

/**
 * Save `vm` and its workspace disks into the empty directory `dir`, and let the VM run on. The
 * disks are copied while the VM is paused, so they match the saved memory. Throws what saving
 * or copying threw (the VM runs on all the same).
 *
 * @example
 * ```ts ignore
 * import { saveSessionSnapshot } from "./session_snapshot.ts";
 * await saveSessionSnapshot(vm, "/state/agentbox/snapshots/.new-base-x", { id, name, spec, vm });
 * ```
 */
export async function saveSessionSnapshot(
  vm: RunningVm,
  dir: string,
  source: SnapshotSource,
): Promise<void> {
  if (vm.vmm !== "qemu") {
    // Session snapshots are restored into QEMU (restoreSessionVm); Cloud Hypervisor's snapshot
    // is a directory in its own format.
    throw new VmError("Cannot snapshot this session: session snapshots need --vmm qemu");
  }
  const files = snapshotFiles(dir);
  const image = await findImage(source.vm.image);
  const ws = source.workspace;
  const disks: SnapshotDisks = ws ? "workspace" : vm.restored ? "placeholders" : "none";
  await vm.saveState(files.state, {
    resume: true,
    whilePaused: async () => {
      if (!ws) return;
      const target = changesetPaths(dir);
      await Deno.mkdir(target.root, { recursive: true, mode: 0o700 });
      await copySparse(ws.share.upperDisk, upperDiskPath(dir));
      await Deno.copyFile(changesetPaths(ws.sessionDir).baseline, target.baseline);
      await linkOrCopy(pinnedLowerPath(ws.sessionDir), pinnedLowerPath(dir));
      await copyLayers(ws.sessionDir, dir);
    },
  });
  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    source: { id: source.id, name: source.name },
    createdAt: Date.now(),
    spec: source.spec,
    vm: source.vm,
    disks,
    imageDigest: imageDigest(image),
  };
  await Deno.writeTextFile(files.manifest, JSON.stringify(manifest, null, 2), { mode: 0o600 });
}

/**
 * Give the session whose state lives in `sessionDir` its own copy of the snapshot's workspace
 * (upper disk, pinned lower image, baseline); `undefined` when the snapshot has none.
 *
 * @example
 * ```ts ignore
 * import { adoptSnapshotWorkspace } from "./session_snapshot.ts";
 * const ws = await adoptSnapshotWorkspace(snapshot.dir, "/state/agentbox/sessions/abc");
 * ```
 */
export async function adoptSnapshotWorkspace(
  snapshotDir: string,
  sessionDir: string,
): Promise<WorkspaceSession | undefined> {
  const from = changesetPaths(snapshotDir);
  if (!await Deno.stat(from.baseline).then(() => true, () => false)) return undefined;
  const to = changesetPaths(sessionDir);
  await Deno.mkdir(to.root, { recursive: true, mode: 0o700 });
  await Deno.copyFile(from.baseline, to.baseline);
  await copySparse(upperDiskPath(snapshotDir), upperDiskPath(sessionDir));
  await linkOrCopy(pinnedLowerPath(snapshotDir), pinnedLowerPath(sessionDir));
  await copyLayers(snapshotDir, sessionDir);
  return await resumeWorkspaceSession(sessionDir, {
    ...await pinnedLower(sessionDir),
    upperDisk: upperDiskPath(sessionDir),
  }, { keepUpperDisk: true });
}

/** Options of {@linkcode restoreSessionVm}. */
export interface RestoreVmOptions {
  /** The new session's network (its own proxies); must be there when the source had one. */
  network?: VmNetwork;
  /** The new session's copy of the workspace ({@linkcode adoptSnapshotWorkspace}). */
  workspace?: WorkspaceSession;
  onWarning?: (message: string) => void;
}

/**
 * Start a VM from the snapshot in `snapshotDir`, of the shape its manifest records, with the
 * new session's disks and network; its agent has been greeted again when this returns. Throws
 * `ImageError` when the image is gone, {@linkcode SnapshotError} when it was rebuilt since, and
 * `VmError`/`QmpError` when QEMU cannot restore (another QEMU, say).
 *
 * @example
 * ```ts ignore
 * import { restoreSessionVm } from "./session_snapshot.ts";
 * const vm = await restoreSessionVm(snapshot.dir, snapshot.manifest, { network, workspace });
 * ```
 */
export async function restoreSessionVm(
  snapshotDir: string,
  manifest: SnapshotManifest,
  options: RestoreVmOptions,
): Promise<RunningVm> {
  const image = await findImage(manifest.vm.image);
  if (imageDigest(image) !== manifest.imageDigest) {
    throw new SnapshotError(
      `Image "${image.name}" was rebuilt since this snapshot was made: it cannot be restored`,
      { code: "snapshot_incompatible" },
    );
  }
  const shape = templateShape(image, {
    cpus: manifest.vm.cpus,
    memoryMb: manifest.vm.memoryMb,
    network: options.network,
  });
  const runtimeDir = await makeVmRuntimeDir();
  try {
    const files = options.workspace?.share ??
      (manifest.disks === "placeholders" ? await placeholderWorkspace(runtimeDir) : undefined);
    const vm = await startQemuVm({
      ...shape,
      disks: files && workspaceDisks(files),
      runtimeDir,
      bootTimeoutMs: VM_DEFAULTS.bootTimeoutMs,
    }, {
      setup: await qemuSetup(),
      restoreFrom: snapshotFiles(snapshotDir).state,
      onWarning: options.onWarning,
    });
    // The snapshot may come from the other network backend, or another tap subnet.
    if (options.network) {
      await configureGuestNetwork(vm.agent, options.network).catch(async (error) => {
        await vm.stop();
        throw error;
      });
    }
    return vm;
  } catch (error) {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    throw error;
  }
}

function upperDiskPath(sessionDir: string): string {
  return changesetPaths(sessionDir).upperDisk;
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await Deno.link(from, to);
  } catch {
    await Deno.copyFile(from, to);
  }
}

/** The layer list that goes with a pinned lower image, when the session has one. */
async function copyLayers(fromDir: string, toDir: string): Promise<void> {
  await Deno.copyFile(pinnedLayersPath(fromDir), pinnedLayersPath(toDir)).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}
