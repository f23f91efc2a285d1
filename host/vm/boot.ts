/**
 * Boot a VM from a named image: the one place that ties images, runtime directories and the VMM
 * together, so subcommands only say what they want.
 *
 * @module
 */

import { agentSourceDigest } from "../../image/agent_source.ts";
import { findImage } from "../../image/store.ts";
import type { UserNetwork } from "../net/user_network.ts";
import { makeVmRuntimeDir } from "../paths.ts";
import { type RunningVm, startQemuVm } from "./qemu/qemu_vm.ts";
import { VM_DEFAULTS } from "./spec.ts";

/** What to boot. */
export interface BootOptions {
  /** Image name (default `default`). */
  image?: string;
  cpus?: number;
  memoryMb?: number;
  bootTimeoutMs?: number;
  /** The guest's network (see host/net/egress.ts); without it the VM has no network interface. */
  network?: UserNetwork;
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
  const image = await findImage(options.image ?? "default");
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
      runtimeDir,
    }, { onWarning: options.onWarning });
  } catch (error) {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    throw error;
  }
}
