/**
 * Boot a VM from a named image: the one place that ties images, runtime directories and the VMM
 * together, so subcommands only say what they want.
 *
 * @module
 */

import { agentSourceDigest } from "../../image/agent_source.ts";
import { findImage, type ImagePaths } from "../../image/store.ts";
import { makeVmRuntimeDir } from "../paths.ts";
import { requireCloudHypervisor } from "./cloud_hypervisor/ch_setup.ts";
import { startChVm } from "./cloud_hypervisor/ch_vm.ts";
import { VmError } from "./errors.ts";
import { qemuSetup, startQemuVm } from "./qemu/qemu_vm.ts";
import type { RunningVm, VmmKind } from "./running_vm.ts";
import {
  startFromTemplate,
  templatesEnabled,
  templateShape,
  type TemplateSpec,
} from "./template.ts";
import { configureGuestNetwork } from "./guest_network.ts";
import { VM_DEFAULTS, type VmNetwork, type VmSpec } from "./spec.ts";
import {
  mountsLayers,
  mountWorkspace,
  workspaceDisks,
  type WorkspaceFiles,
} from "./workspace_disks.ts";

/** What to boot. */
export interface BootOptions {
  /** Image name (default `default`), or an image already found with `findImage`. */
  image?: string | ImagePaths;
  cpus?: number;
  memoryMb?: number;
  bootTimeoutMs?: number;
  /** The guest's network (see host/egress/egress.ts); without it the VM has no network interface. */
  network?: VmNetwork;
  /** A shared workspace (see host/workspace/share.ts), mounted in the guest at /workspace. */
  workspace?: WorkspaceFiles;
  /**
   * Restore the image's template snapshot for this VM shape (making it on first use) instead of
   * booting: default true unless `AGENTBOX_NO_TEMPLATE=1`. False always boots cold.
   */
  template?: boolean;
  /** Called with user-facing warnings (e.g. software emulation). */
  onWarning?: (message: string) => void;
  /** False: no warning about software emulation (config `vm.kvm_warning`); default once a boot. */
  kvmWarning?: boolean;
  /**
   * The VMM (default `qemu`). `cloud-hypervisor` needs its binary and a working KVM (checked
   * first: one `VmError` saying what is missing), a tap network or none, and an image with the
   * `virtio_pci` module; it always boots cold (templates are QEMU's).
   */
  vmm?: VmmKind;
}

/**
 * Find the image, start a VM from it and return the VM once its agent has said hello — restored
 * from the image's template snapshot for this VM shape when there is one (made on first use; see
 * template.ts), booted cold otherwise or when `AGENTBOX_NO_TEMPLATE=1`. A tap network is
 * configured in the guest and a shared workspace mounted before this returns. Throws `ImageError` when the image is missing and `VmError` when
 * the VM cannot start.
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
  const warned = new Set<string>();
  const onWarning = (message: string) => {
    if (!warned.has(message)) options.onWarning?.(message);
    warned.add(message);
  };
  const source = await agentSourceDigest();
  if (source && image.manifest.agent.sourceSha256 !== source) {
    onWarning(
      `image "${image.name}" carries a guest agent built from other code than this agentbox: ` +
        `rebuild it with \`agentbox images build ${image.name}\``,
    );
  }
  if (options.workspace?.lowerLayers?.length && !mountsLayers(image.manifest)) {
    throw new VmError(
      `Image "${image.name}" cannot mount a share's delta layers (it predates them): rebuild it ` +
        `with \`agentbox images build ${image.name}\``,
      { code: "image_outdated" },
    );
  }
  const shape = templateShape(image, options);
  const bootTimeoutMs = options.bootTimeoutMs ?? VM_DEFAULTS.bootTimeoutMs;
  const vm = options.vmm === "cloud-hypervisor"
    ? await bootCloudHypervisor(image, shape, options.workspace, bootTimeoutMs)
    : await bootQemu(image, shape, { ...options, bootTimeoutMs, onWarning });
  try {
    if (options.network?.kind === "tap") await configureGuestNetwork(vm.agent, options.network);
    if (options.workspace) await mountWorkspace(vm.agent, options.workspace.lowerLayers);
  } catch (error) {
    await vm.stop();
    throw error;
  }
  return vm;
}

/** QEMU: the image's template snapshot when it can, a cold boot otherwise. */
async function bootQemu(
  image: ImagePaths,
  shape: TemplateSpec,
  options: BootOptions & { bootTimeoutMs: number; onWarning: (message: string) => void },
): Promise<RunningVm> {
  const { bootTimeoutMs, onWarning } = options;
  const setup = await qemuSetup();
  const restored = (options.template ?? templatesEnabled())
    ? await startFromTemplate(image, shape, {
      setup,
      workspace: options.workspace,
      bootTimeoutMs,
      onWarning,
      kvmWarning: options.kvmWarning,
    })
    : undefined;
  return restored ?? await bootCold(shape, options.workspace, {
    bootTimeoutMs,
    start: (spec) => startQemuVm(spec, { setup, onWarning, kvmWarning: options.kvmWarning }),
  });
}

/** Cloud Hypervisor: checked first (binary, KVM, an image that has virtio_pci), then cold. */
async function bootCloudHypervisor(
  image: ImagePaths,
  shape: TemplateSpec,
  workspace: WorkspaceFiles | undefined,
  bootTimeoutMs: number,
): Promise<RunningVm> {
  const binary = await requireCloudHypervisor();
  if (!image.manifest.modules.includes("virtio_pci")) {
    throw new VmError(
      `Cannot boot image "${image.name}" under Cloud Hypervisor: it was built without the ` +
        `virtio_pci module; rebuild it with \`agentbox images build ${image.name}\``,
    );
  }
  return await bootCold(shape, workspace, {
    bootTimeoutMs,
    start: (spec) => startChVm(spec, { binary }),
  });
}

async function bootCold(
  shape: TemplateSpec,
  workspace: WorkspaceFiles | undefined,
  options: { bootTimeoutMs: number; start: (spec: VmSpec) => Promise<RunningVm> },
): Promise<RunningVm> {
  const runtimeDir = await makeVmRuntimeDir();
  try {
    return await options.start({
      ...shape,
      disks: workspace && workspaceDisks(workspace),
      bootTimeoutMs: options.bootTimeoutMs,
      runtimeDir,
    });
  } catch (error) {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    throw error;
  }
}
