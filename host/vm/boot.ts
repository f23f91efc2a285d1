/**
 * Boot a VM from a named image: the one place that ties images, runtime directories and the VMM
 * together, so subcommands only say what they want.
 *
 * @module
 */

import { agentSourceDigest } from "../../image/agent_source.ts";
import { findImage, type ImagePaths } from "../../image/store.ts";
import type { UserNetwork } from "../net/user_network.ts";
import { makeVmRuntimeDir } from "../paths.ts";
import { type RunningVm, startQemuVm } from "./qemu/qemu_vm.ts";
import { DISK_SERIALS } from "../../guest-agent/workspace/layout.ts";
import { VM_DEFAULTS, type VmSpec } from "./spec.ts";

/** What to boot. */
export interface BootOptions {
  /** Image name (default `default`), or an image already found with `findImage`. */
  image?: string | ImagePaths;
  cpus?: number;
  memoryMb?: number;
  bootTimeoutMs?: number;
  /** The guest's network (see host/net/egress.ts); without it the VM has no network interface. */
  network?: UserNetwork;
  /** A shared workspace (see host/workspace/share.ts), mounted by the guest at /workspace. */
  workspace?: { lowerImage: string; upperDisk: string };
  /** Called with user-facing warnings (e.g. software emulation). */
  onWarning?: (message: string) => void;
}

/**
 * Find the image, boot it and return the VM once its agent has said hello.
 * Throws `ImageError` when the image is missing and `VmError` when the VM cannot start.
 *
 * @example
 * ```ts
 * import { bootVm } from "./boot.ts";
 * const vm = await bootVm({ cpus: 1 });
 * await vm.stop();
 * ```
 */
export async function bootVm(options: BootOptions = {}): Promise<RunningVm> {
  const image = typeof options.image === "object"
    ? options.image
    : await findImage(options.image ?? "default");
  const source = await agentSourceDigest();
  if (source && image.manifest.agent.sourceSha256 !== source) {
    options.onWarning?.(
      `image "${image.name}" carries a guest agent built from other code than this agentbox: ` +
        `rebuild it with \`agentbox images build ${image.name}\``,
    );
  }
  const runtimeDir = await makeVmRuntimeDir();
  try {
    return await startQemuVm({
      kernel: image.kernel,
      initrd: image.initrd,
      rootfs: image.rootfs,
      cpus: options.cpus ?? VM_DEFAULTS.cpus,
      memoryMb: options.memoryMb ?? VM_DEFAULTS.memoryMb,
      bootTimeoutMs: options.bootTimeoutMs ?? VM_DEFAULTS.bootTimeoutMs,
      network: options.network,
      ...workspaceDisks(options.workspace),
      runtimeDir,
    }, { onWarning: options.onWarning });
  } catch (error) {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** The disks and kernel argument that make the guest mount a workspace. */
function workspaceDisks(
  workspace: BootOptions["workspace"],
): Pick<VmSpec, "disks" | "cmdline"> {
  if (!workspace) return {};
  return {
    disks: [
      { path: workspace.lowerImage, readonly: true, serial: DISK_SERIALS.lower },
      { path: workspace.upperDisk, readonly: false, serial: DISK_SERIALS.upper },
    ],
    cmdline: ["agentbox.workspace=1"],
  };
}
