/**
 * The two workspace disks of a VM (the read-only image of the shared directory and the writable
 * disk of the overlay's upper layer), and mounting them in the guest.
 *
 * The guest mounts the workspace when the host asks — by running the image's
 * `/etc/agentbox/mount-workspace` through the agent — not at boot: a VM restored from a template
 * snapshot booted long before its session existed. A template therefore always has both disks,
 * as sparse placeholders of {@linkcode PLACEHOLDER_BYTES}; the guest kernel keeps the capacity it
 * saw at boot, so a session's disks fit a template when neither is larger than that.
 *
 * @module
 */

import { MOUNT_WORKSPACE_PATH } from "../../image/stage2.ts";
import { DISK_SERIALS } from "../../guest-agent/workspace/layout.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import { runGuestSetup } from "./guest_setup.ts";
import type { VmDisk } from "./spec.ts";

/**
 * Apparent size of a placeholder disk (sparse: it costs no space), and the largest workspace
 * image or upper disk a VM restored from a template can use: 1 TiB.
 */
export const PLACEHOLDER_BYTES = 2 ** 40;

/** The files behind a workspace: a read-only erofs image and a writable ext4 disk. */
export interface WorkspaceFiles {
  lowerImage: string;
  /**
   * Byte offsets in `lowerImage` of delta layers over the image at offset 0, oldest first
   * (host/workspace/share_layers.ts); none when absent.
   */
  lowerLayers?: number[];
  upperDisk: string;
}

/**
 * The VM disks for `files`, in the order every VM attaches them.
 *
 * @example
 * ```ts
 * import { workspaceDisks } from "./workspace_disks.ts";
 * const [lower, upper] = workspaceDisks({ lowerImage: "/c/a.erofs", upperDisk: "/s/upper.ext4" });
 * console.assert(lower.readonly && !upper.readonly);
 * ```
 */
export function workspaceDisks(files: WorkspaceFiles): VmDisk[] {
  return [
    { path: files.lowerImage, readonly: true, serial: DISK_SERIALS.lower },
    { path: files.upperDisk, readonly: false, serial: DISK_SERIALS.upper },
  ];
}

/**
 * Create sparse placeholder disks in `dir` (a VM's own directory: the writable one must not be
 * shared between VMs) and return them as workspace files.
 *
 * @example
 * ```ts
 * import { placeholderWorkspace, workspaceDisks } from "./workspace_disks.ts";
 * const disks = workspaceDisks(await placeholderWorkspace("/run/agentbox/vm-1"));
 * ```
 */
export async function placeholderWorkspace(dir: string): Promise<WorkspaceFiles> {
  const files = {
    lowerImage: `${dir}/placeholder-lower.img`,
    upperDisk: `${dir}/placeholder-upper.img`,
  };
  for (const path of [files.lowerImage, files.upperDisk]) {
    using file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
    await file.truncate(PLACEHOLDER_BYTES);
  }
  return files;
}

/**
 * Whether `files` fit the placeholders a template was made with.
 *
 * @example
 * ```ts
 * import { fitsPlaceholders } from "./workspace_disks.ts";
 * declare const share: Parameters<typeof fitsPlaceholders>[0];
 * if (!await fitsPlaceholders(share)) console.log("boot cold");
 * ```
 */
export async function fitsPlaceholders(files: WorkspaceFiles): Promise<boolean> {
  const sizes = await Promise.all(
    [files.lowerImage, files.upperDisk].map(async (path) => (await Deno.stat(path)).size),
  );
  return sizes.every((size) => size <= PLACEHOLDER_BYTES);
}

/**
 * Whether an image can mount a lower disk with delta layers: it was built with the `loop` module
 * (and the `mount-workspace` that takes the layers' offsets, which came with it). An older image's
 * script would ignore the offsets and show the tree as the first layer has it.
 *
 * @example
 * ```ts
 * import { mountsLayers } from "./workspace_disks.ts";
 * console.assert(mountsLayers({ modules: ["erofs", "overlay", "loop"] }));
 * ```
 */
export function mountsLayers(manifest: { modules: readonly string[] }): boolean {
  return manifest.modules.includes("loop");
}

/**
 * Mount the workspace at /workspace in the guest, with the delta layers at `lowerLayers` (byte
 * offsets in the lower disk) over its image. Throws `VmError` with what the guest said when it
 * cannot.
 *
 * @example
 * ```ts
 * import { mountWorkspace } from "./workspace_disks.ts";
 * import type { RunningVm } from "./running_vm.ts";
 * declare const vm: RunningVm;
 * await mountWorkspace(vm.agent);
 * ```
 */
export async function mountWorkspace(
  agent: AgentClient,
  lowerLayers: readonly number[] = [],
): Promise<void> {
  for (const offset of lowerLayers) {
    if (!Number.isSafeInteger(offset) || offset <= 0) {
      throw new RangeError(`bad layer offset ${offset}`);
    }
  }
  await runGuestSetup(
    agent,
    [MOUNT_WORKSPACE_PATH, ...lowerLayers.map(String)],
    "mount the workspace in the VM",
  );
}
