/**
 * Template snapshots: a VM booted once per image and VM shape, saved right after its agent said
 * hello, and restored for every later VM of that shape instead of booting one. The template's
 * memory is a file (`Template.ram`): the VM it was made in wrote into it, every VM restored from
 * it maps it copy-on-write, so a restore reads no memory at all and the VMs of one template share
 * the pages they have not written (docs/images.md, "Template snapshots").
 *
 * A template is valid for one image build, one QEMU binary, one accelerator and one shape (CPUs,
 * memory, network or not, the devices): all of it goes into its key. It is made on first use (or
 * by `agentbox images build`) and kept under `$XDG_CACHE_HOME/agentbox/templates/IMAGE/KEY/`.
 * What differs between sessions is host-side only and can change across a restore: the
 * network's forwarded host ports (slirp's `guestfwd` targets) or tap device, the workspace disks' files (the
 * template has placeholders; the guest mounts the real ones when asked, workspace_disks.ts), the
 * runtime directory. The guest's clock and random generator are refreshed by the host's hello.
 *
 * Anything that goes wrong here ends in a cold boot, never in a failed command: the caller gets
 * `undefined` and, when a template was expected to work, one warning.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ImagePaths } from "../../image/store.ts";
import { AGENT_DEADLINES } from "../channel/agent_client.ts";
import { cacheDir, makeVmRuntimeDir } from "../paths.ts";
import { qemuArgv } from "./qemu/argv.ts";
import { NO_RELAY_KEY, proxyNetwork } from "../net/user_network.ts";
import { VmError } from "./errors.ts";
import { type QemuSetup, qemuSetup, type RunningVm, startQemuVm } from "./qemu/qemu_vm.ts";
import { VM_DEFAULTS, type VmNetwork, type VmSpec } from "./spec.ts";
import {
  fitsPlaceholders,
  placeholderWorkspace,
  workspaceDisks,
  type WorkspaceFiles,
} from "./workspace_disks.ts";

/** Set to `1` to never use template snapshots (every VM boots cold). */
export const NO_TEMPLATE_ENV = "AGENTBOX_NO_TEMPLATE";

/** Bumped when the way templates are made changes, so that old ones are not restored. */
// 3: the disks' block nodes have names (a warm VM swaps its placeholders, qemu/disk_swap.ts).
const TEMPLATE_FORMAT = 3;

/** A VM shape: the spec without what belongs to one VM (its directory, disks, timeout). */
export type TemplateSpec = Omit<VmSpec, "runtimeDir" | "disks" | "bootTimeoutMs">;

/** One template on disk. */
export interface Template {
  dir: string;
  /** The saved device state; the template is valid when it exists. */
  state: string;
  /**
   * The guest's memory, a sparse file of the VM's memory size: the template VM wrote it (a shared
   * mapping), every VM restored from it maps it copy-on-write (see the module's documentation).
   */
  ram: string;
  key: string;
  /** What the key was made from (also written to `meta.json`). */
  meta: TemplateMeta;
}

/** `meta.json` of a template. */
export interface TemplateMeta {
  format: number;
  key: string;
  image: string;
  /** Digest of the image's files: a rebuilt image makes its templates stale. */
  imageDigest: string;
  /** Path, size and modification time of the QEMU binary. */
  qemu: string;
  accel: string;
  cpus: number;
  memoryMb: number;
  network: boolean;
}

/**
 * A digest of `image`'s build (its files and agent): a saved VM state is only valid for the
 * build it was saved from.
 *
 * @example
 * ```ts
 * import { imageDigest } from "./template.ts";
 * import { findImage } from "../../image/store.ts";
 * console.log(imageDigest(await findImage("default")));
 * ```
 */
export function imageDigest(image: ImagePaths): string {
  return digest(JSON.stringify([image.manifest.files, image.manifest.agent]));
}

/** Whether templates are enabled (`AGENTBOX_NO_TEMPLATE` unset, empty or `0`). */
export function templatesEnabled(): boolean {
  const value = Deno.env.get(NO_TEMPLATE_ENV);
  return !value || value === "0";
}

/** Where templates are kept: `$XDG_CACHE_HOME/agentbox/templates`. */
export function templatesDir(): string {
  return `${cacheDir()}/templates`;
}

/**
 * Remove every template of the image named `image` (all its shapes), e.g. when the image itself
 * is removed. Missing templates are fine.
 *
 * @example
 * ```ts
 * import { removeTemplates } from "./template.ts";
 * await removeTemplates("dev");
 * ```
 */
export async function removeTemplates(image: string): Promise<void> {
  if (!image || image.includes("/") || image.startsWith(".")) {
    throw new VmError(`Not an image name: ${JSON.stringify(image)}`);
  }
  await Deno.remove(`${templatesDir()}/${image}`, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/**
 * The template for `shape` of `image` under `setup`, whether or not it has been made yet.
 *
 * @example
 * ```ts
 * import { locateTemplate } from "./template.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * import type { QemuSetup } from "./qemu/qemu_vm.ts";
 * import type { TemplateSpec } from "./template.ts";
 * declare const image: ImagePaths, shape: TemplateSpec, setup: QemuSetup;
 * const template = await locateTemplate(image, shape, setup);
 * console.log(template.dir);
 * ```
 */
export async function locateTemplate(
  image: ImagePaths,
  shape: TemplateSpec,
  setup: QemuSetup,
): Promise<Template> {
  const canonical: VmSpec = {
    ...shape,
    network: shape.network && canonicalNetwork(shape.network),
    memoryFile: { path: "/template/ram", shared: false },
    disks: workspaceDisks({ lowerImage: "/template/lower", upperDisk: "/template/upper" }),
    runtimeDir: "/template",
    bootTimeoutMs: 0,
  };
  // The TSC rate only matters to a booting kernel, and `cpu MHz` may wobble: leave it out.
  const argv = qemuArgv(canonical, { accel: setup.accel, channel: setup.channel });
  const partial = {
    format: TEMPLATE_FORMAT,
    image: image.name,
    imageDigest: imageDigest(image),
    qemu: await qemuIdentity(setup.qemu),
    accel: setup.accel.kind,
    cpus: shape.cpus,
    memoryMb: shape.memoryMb,
    network: shape.network !== undefined,
  };
  const key = digest(JSON.stringify({ ...partial, argv }));
  const dir = `${templatesDir()}/${image.name}/${key.slice(0, 32)}`;
  return { dir, state: `${dir}/state`, ram: `${dir}/ram`, key, meta: { ...partial, key } };
}

/**
 * `network` without what differs between sessions (the forwarded host ports, the relay's path
 * and key;
 * a tap's name and addresses). The backend stays in the key: a state saved on slirp carries a
 * slirp section that a VM on a tap cannot load.
 */
function canonicalNetwork(network: VmNetwork): VmNetwork {
  if (network.kind === "tap") return { ...TEMPLATE_TAP, kind: "tap" };
  return {
    ...proxyNetwork("/bin/busybox", { forwardPort: 1, transparentPort: 1, relayKey: NO_RELAY_KEY }),
    forwards: network.forwards.map((f) => ({ guestPort: f.guestPort, hostPort: 1 })),
    restrict: network.restrict,
  };
}

const TEMPLATE_TAP = {
  ifname: "abtemplate",
  gateway: "10.213.0.1",
  guest: "10.213.0.2",
  prefixLength: 30,
} as const;

/**
 * Boot a VM of `shape`, save it as `template` and stop it, unless another process made it
 * meanwhile (makers take turns). Older templates of the same image made from another build of it
 * or another QEMU are removed. Throws what booting or saving threw.
 *
 * @example
 * ```ts
 * import { locateTemplate, makeTemplate } from "./template.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * import type { QemuSetup } from "./qemu/qemu_vm.ts";
 * import type { TemplateSpec } from "./template.ts";
 * declare const image: ImagePaths, shape: TemplateSpec, setup: QemuSetup;
 * await makeTemplate(await locateTemplate(image, shape, setup), image, shape, setup);
 * ```
 */
export async function makeTemplate(
  template: Template,
  image: ImagePaths,
  shape: TemplateSpec,
  setup: QemuSetup,
): Promise<void> {
  await Deno.mkdir(template.dir, { recursive: true, mode: 0o700 });
  // One maker at a time: a VM restoring from the template must never see the memory of one make
  // with the state of another. The second maker finds the template made.
  using lock = await Deno.open(`${template.dir}/lock`, { create: true, write: true, mode: 0o600 });
  await lock.lock(true);
  if (await exists(template.state)) return;
  const suffix = `${crypto.randomUUID()}.tmp`;
  const temp = { state: `${template.state}.${suffix}`, ram: `${template.ram}.${suffix}` };
  const runtimeDir = await makeVmRuntimeDir();
  try {
    const disks = workspaceDisks(await placeholderWorkspace(runtimeDir));
    const vm = await startQemuVm({
      ...shape,
      memoryFile: { path: temp.ram, shared: true },
      disks,
      runtimeDir,
      bootTimeoutMs: TEMPLATE_BOOT_TIMEOUT_MS,
    }, { setup });
    try {
      // The agent's first exec is its slowest (its JavaScript is compiled on first use): run
      // one before saving, so that every VM restored from the template starts with that done.
      await warmUp(vm);
      await Deno.writeTextFile(`${template.dir}/meta.json`, JSON.stringify(template.meta, null, 2));
      // The VM stays paused until it stops: its memory file no longer changes.
      await vm.saveState(temp.state, { memoryInFile: true });
    } finally {
      await vm.stop();
    }
    // The memory first: the state's existence says the template is complete.
    await Deno.rename(temp.ram, template.ram);
    await Deno.rename(temp.state, template.state);
  } finally {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    await Deno.remove(temp.state).catch(() => {});
    await Deno.remove(temp.ram).catch(() => {});
  }
  await removeStale(image, template.meta);
}

const TEMPLATE_BOOT_TIMEOUT_MS = 120_000;

/**
 * The VM shape of `image` with `cpus`, `memoryMb` (defaults: {@linkcode VM_DEFAULTS}) and
 * `network` (none: no network interface).
 *
 * @example
 * ```ts
 * import { templateShape } from "./template.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * declare const image: ImagePaths;
 * const shape = templateShape(image, { cpus: 2 });
 * ```
 */
export function templateShape(
  image: ImagePaths,
  options: { cpus?: number; memoryMb?: number; network?: VmNetwork } = {},
): TemplateSpec {
  return {
    kernel: image.kernel,
    initrd: image.initrd,
    rootfs: image.rootfs,
    cpus: options.cpus ?? VM_DEFAULTS.cpus,
    memoryMb: options.memoryMb ?? VM_DEFAULTS.memoryMb,
    network: options.network,
  };
}

/**
 * Make the template `agentbox exec` and `run` use by default for `image` (default CPUs and
 * memory) on `network` (the network backend they will use), unless it exists. Returns whether it
 * had to be made; throws what booting or saving threw, and `VmError` where templates cannot work
 * (a vsock channel).
 *
 * @example
 * ```ts
 * import { prepareDefaultTemplate } from "./template.ts";
 * import { findImage } from "../../image/store.ts";
 * import type { VmNetwork } from "./spec.ts";
 * declare const egress: { network: VmNetwork };
 * await prepareDefaultTemplate(await findImage("default"), egress.network);
 * ```
 */
export async function prepareDefaultTemplate(
  image: ImagePaths,
  network: VmNetwork,
): Promise<boolean> {
  const setup = await qemuSetup();
  if (setup.channel !== "serial") {
    throw new VmError("Templates need the virtio-serial agent channel; this host has vsock");
  }
  const shape = templateShape(image, { network });
  const template = await locateTemplate(image, shape, setup);
  if (await exists(template.state)) return false;
  await makeTemplate(template, image, shape, setup);
  return true;
}

/** Options of {@linkcode startFromTemplate}. */
export interface FromTemplateOptions {
  setup: QemuSetup;
  /** The session's workspace; without one the VM gets fresh placeholders. */
  workspace?: WorkspaceFiles;
  bootTimeoutMs: number;
  onWarning?: (message: string) => void;
  /** Passed to `startQemuVm`: false silences the software-emulation warning. */
  kvmWarning?: boolean;
}

/**
 * Start a VM of `shape` from its template, making the template first if there is none. Returns
 * `undefined` when no template applies (a vsock channel, a disk too big for the placeholders) or
 * when making or restoring one failed (then with one warning; a template that failed to restore
 * is removed, to be made again next time): the caller boots cold.
 *
 * @example
 * ```ts
 * import { startFromTemplate } from "./template.ts";
 * import type { ImagePaths } from "../../image/store.ts";
 * import type { QemuSetup } from "./qemu/qemu_vm.ts";
 * import type { TemplateSpec } from "./template.ts";
 * declare const image: ImagePaths, shape: TemplateSpec, setup: QemuSetup;
 * const vm = await startFromTemplate(image, shape, { setup, bootTimeoutMs: 60_000 });
 * ```
 */
export async function startFromTemplate(
  image: ImagePaths,
  shape: TemplateSpec,
  options: FromTemplateOptions,
): Promise<RunningVm | undefined> {
  const { setup, workspace } = options;
  if (setup.channel !== "serial") return undefined;
  if (workspace && !(await fitsPlaceholders(workspace))) return undefined;
  const template = await locateTemplate(image, shape, setup);
  if (!(await exists(template.state))) {
    try {
      await makeTemplate(template, image, shape, setup);
    } catch (error) {
      options.onWarning?.(
        `cannot make a template snapshot of image "${image.name}", booting without one: ${
          (error as Error).message
        }`,
      );
      return undefined;
    }
  }
  const runtimeDir = await makeVmRuntimeDir();
  try {
    const disks = workspaceDisks(workspace ?? await placeholderWorkspace(runtimeDir));
    return await startQemuVm(
      {
        ...shape,
        memoryFile: { path: template.ram, shared: false },
        disks,
        runtimeDir,
        bootTimeoutMs: options.bootTimeoutMs,
      },
      {
        setup,
        restoreFrom: template.state,
        memoryInFile: true,
        onWarning: options.onWarning,
        kvmWarning: options.kvmWarning,
      },
    );
  } catch (error) {
    await Deno.remove(runtimeDir, { recursive: true }).catch(() => {});
    await Deno.remove(template.dir, { recursive: true }).catch(() => {});
    options.onWarning?.(
      `cannot restore the template snapshot of image "${image.name}" (${
        (error as Error).message
      }): booting cold; the snapshot was removed and will be made again`,
    );
    return undefined;
  }
}

async function warmUp(vm: RunningVm): Promise<void> {
  const run = vm.agent.exec({ argv: ["true"], deadlineMs: AGENT_DEADLINES.hostCommandMs });
  await Promise.all([run.stdout.cancel(), run.stderr.cancel(), run.result]);
}

/**
 * Remove templates of `meta.image` made from another build of the image, another QEMU or in
 * another format (an older agentbox's).
 */
async function removeStale(image: ImagePaths, meta: TemplateMeta): Promise<void> {
  const root = `${templatesDir()}/${image.name}`;
  for await (const entry of Deno.readDir(root)) {
    const dir = `${root}/${entry.name}`;
    const other = await Deno.readTextFile(`${dir}/meta.json`)
      .then((text) => JSON.parse(text) as Partial<TemplateMeta>)
      .catch(() => undefined);
    // A template being made right now has no meta.json for a moment: leave those alone.
    if (!other) continue;
    const stale = other.imageDigest !== meta.imageDigest || other.qemu !== meta.qemu ||
      other.format !== meta.format;
    if (stale) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Path, size and modification time of the QEMU binary found on `PATH`. */
async function qemuIdentity(qemu: string): Promise<string> {
  const dirs = qemu.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  for (const dir of dirs) {
    const path = dir ? `${dir}/${qemu}` : qemu;
    const info = await Deno.stat(path).catch(() => undefined);
    if (info?.isFile) return `${path}:${info.size}:${info.mtime?.getTime()}`;
  }
  return qemu;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
