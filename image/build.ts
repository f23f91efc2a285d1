/**
 * `buildImage`: build a guest image on the host from Debian packages, the Deno binary and the
 * bundled guest agent. The kernel, initrd, agent bundle, erofs packing and manifest are the same
 * for every image; the root filesystem's tree is the profile's (profile.ts). Everything is built in a temporary directory next to the final one
 * and renamed into place at the end, so a failed build never leaves a half image; what a killed
 * build left is removed by the next (build_staging.ts).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PROTOCOL_VERSION } from "@agentbox/protocol";
import { agentSourceDigest } from "./agent_source.ts";
import { makeBuildStaging, removeStaleBuilds } from "./build_staging.ts";
import { type AgentCommand, writeWrappers } from "./agent_wrappers.ts";
import { runCommand } from "./command.ts";
import { dependencyClosure, downloadDebs, extractDeb, resolveMetapackage } from "./debian.ts";
import { ImageError } from "./errors.ts";
import { sha256File } from "./hash.ts";
import { buildInitrd } from "./initrd.ts";
import type { ExtractedPackage } from "./libraries.ts";
import {
  type DebianPackage,
  type FileDigest,
  IMAGE_FILES,
  type ImageFileName,
  type ImageManifest,
  MANIFEST_FORMAT,
  type NpmPackage,
} from "./manifest.ts";
import { packageName } from "./npm_package.ts";
import { moduleLoadOrder, parseModulesBuiltin, readKernelModules } from "./modules.ts";
import type { ImageProfile } from "./profile.ts";
import { profileFor } from "./profiles.ts";
import type { StepProgress } from "./progress.ts";
import { makeErofs } from "./rootfs.ts";
import { AGENT_PATH } from "./stage2.ts";
import { DEFAULT_IMAGE, type ImagePaths, validateImageName } from "./store.ts";
import { cacheDir } from "../host/paths.ts";

/** Options of {@link buildImage}. */
export interface BuildImageOptions {
  /** Image name, a directory under `imagesDir`; default `"default"`. */
  name?: string;
  imagesDir: string;
  /** Called at the start of each step, e.g. `("[3/8] Downloading Debian packages", "27")`. */
  onProgress?: (step: string, detail?: string) => void;
  /** Entry point of the guest agent; default `guest-agent/main.ts` of this repository. */
  agentEntry?: string;
  /** Where downloaded `.deb`s are kept; default `$XDG_CACHE_HOME/agentbox/debs`. */
  debCacheDir?: string;
  /** What kind of image; default the profile named like the image, else `default`. */
  profile?: ImageProfile;
  /** npm packages to install globally, e.g. the agent CLIs (dev profile only). */
  npmPackages?: string[];
  /** Called with progress inside a long step (the root filesystem of the dev image). */
  onStepProgress?: (progress: StepProgress) => void;
  /** Called with user-facing warnings (e.g. the npm step's VM runs under software emulation). */
  onWarning?: (message: string) => void;
  /**
   * Installs `npmPackages` in a VM of the staged image (host/api/npm_install.ts
   * `npmInstallInVm`): the image layer cannot boot VMs itself, so the caller hands it in. Needed
   * only when there are npm packages.
   */
  installNpm?: NpmInstaller;
}

/**
 * Install npm `specs` into `prefixDir` (a directory of the tree, the guest's `guestPrefix`) in a
 * VM of `image`; returns each package's version and commands.
 */
export type NpmInstaller = (
  image: ImagePaths,
  prefixDir: string,
  specs: string[],
  options: {
    onProgress?: (progress: StepProgress) => void;
    onWarning?: (message: string) => void;
    workDir: string;
    guestPrefix: string;
  },
) => Promise<{ packages: (NpmPackage & { bins: AgentCommand[] })[] }>;

/** Debian metapackage that names the current cloud kernel. */
export const KERNEL_METAPACKAGE = "linux-image-cloud-amd64";

/**
 * Kernel features the guest needs (modules or built in), in the order they are wanted.
 * `virtio_mmio` carries QEMU microvm's devices, `virtio_pci` Cloud Hypervisor's (which has no
 * virtio-mmio); loading the one the VMM does not use costs nothing but the load.
 */
export const GUEST_MODULES = [
  "virtio_mmio",
  "virtio_pci",
  "virtio_blk",
  "erofs",
  "overlay",
  "virtio_console",
  "virtio_net",
  "vsock",
  "vmw_vsock_virtio_transport",
  "fuse",
  "virtiofs",
  "ext4",
  "loop",
];

const REPO_ROOT = new URL("../", import.meta.url);

/**
 * Build image `name` under `imagesDir` and return its manifest. Needs on the host: `apt-get`,
 * `apt-cache`, `dpkg-deb` (with current package lists) and `mkfs.erofs`; no root for the default
 * profile (the dev profile needs root and debootstrap).
 *
 * @example
 * ```ts
 * import { buildImage } from "./build.ts";
 * import { imagesDir } from "./store.ts";
 * const manifest = await buildImage({
 *   imagesDir: imagesDir(),
 *   onProgress: (step, detail) => console.error(detail ? `${step} (${detail})…` : `${step}…`),
 * });
 * console.log(manifest.kernel.release);
 * ```
 */
export async function buildImage(opts: BuildImageOptions): Promise<ImageManifest> {
  const name = opts.name ?? DEFAULT_IMAGE;
  validateImageName(name);
  const profile = opts.profile ?? profileFor(undefined, name);
  profile.preflight?.();
  const debCacheDir = opts.debCacheDir ?? join(cacheDir(), "debs");
  // One more step when npm packages are installed (in a VM of the image).
  const steps = (opts.npmPackages?.length ?? 0) > 0 ? 9 : 8;
  let step = 0;
  const progress = (title: string, detail?: string) =>
    opts.onProgress?.(`[${++step}/${steps}] ${title}`, detail);
  const repo = fileURLToPath(REPO_ROOT);
  const agentEntry = opts.agentEntry ?? join(repo, "guest-agent", "main.ts");
  const deno = join(repo, "node_modules", "@deno", "linux-x64-glibc", "deno");

  // What killed builds left (100 MB or more each) goes before this one adds its own.
  await removeStaleBuilds(opts.imagesDir);
  const held = await makeBuildStaging(opts.imagesDir, name);
  const staging = held.dir;
  const work = join(staging, "work");
  try {
    progress("Resolving Debian packages");
    const kernelPackage = await resolveMetapackage(KERNEL_METAPACKAGE, /^linux-image-\d/);
    const names = [kernelPackage, ...await dependencyClosure(profile.packages)];

    progress("Downloading Debian packages", String(names.length));
    const debs = await downloadDebs(names, debCacheDir);

    progress("Extracting Debian packages");
    const extracted: ExtractedPackage[] = [];
    for (const deb of debs) {
      const root = join(work, "debs", deb.name);
      await extractDeb(deb.path, root);
      extracted.push({ name: deb.name, root });
    }

    progress("Bundling the guest agent");
    const agent = join(work, "agent.js");
    await runCommand(deno, ["bundle", "--quiet", "--platform=deno", agentEntry, "-o", agent], {
      cwd: repo,
    });
    const denoVersion = (await runCommand(deno, ["--version"])).match(/^deno (\S+)/)?.[1];
    if (!denoVersion) throw new ImageError(`Cannot read the version of ${deno}`);

    progress("Assembling the root filesystem", `profile ${profile.name}`);
    const rootfs = await profile.assemble(join(work, "rootfs"), {
      packages: extracted.filter((p) => p.name !== kernelPackage),
      deno,
      agent,
      debCacheDir,
      onProgress: (p) => opts.onStepProgress?.(p),
      npmPackages: opts.npmPackages ?? [],
    });
    const used = rootfs.used;

    progress("Building the kernel and initrd");
    const kernelRoot = extracted.find((p) => p.name === kernelPackage)!.root;
    const release = await kernelRelease(kernelRoot);
    const modulesDir = join(kernelRoot, "lib", "modules", release);
    const builtin = parseModulesBuiltin(
      await Deno.readTextFile(join(modulesDir, "modules.builtin")),
    );
    const modules = moduleLoadOrder(GUEST_MODULES, await readKernelModules(modulesDir), builtin);
    const busybox = join(extracted.find((p) => p.name === "busybox-static")!.root, "bin/busybox");
    await Deno.writeFile(
      join(staging, "initrd.img"),
      await buildInitrd({ busybox, modulesDir, modules }),
    );
    await Deno.copyFile(join(kernelRoot, "boot", `vmlinuz-${release}`), join(staging, "vmlinuz"));
    used.add(kernelPackage);

    progress("Packing rootfs.erofs");
    const tree = join(work, "rootfs");
    const pack = () =>
      makeErofs(tree, join(staging, "rootfs.erofs"), { keepOwnership: rootfs.keepOwnership });
    await pack();

    const packages: DebianPackage[] = debs.filter((d) => used.has(d.name)).map((d) => ({
      name: d.name,
      version: d.version,
      sha256: d.sha256,
    }));
    for (const p of rootfs.packages ?? []) {
      if (!packages.some((known) => known.name === p.name)) packages.push(p);
    }
    packages.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const describe = async (npm?: NpmPackage[]): Promise<ImageManifest> => ({
      format: MANIFEST_FORMAT,
      name,
      created: new Date().toISOString(),
      kernel: { release, package: kernelPackage },
      modules: modules.map((m) => m.name),
      packages,
      files: await fileDigests(staging),
      deno: { version: denoVersion, sha256: await sha256File(deno) },
      agent: {
        path: AGENT_PATH,
        sha256: await sha256File(agent),
        sourceSha256: await agentSourceDigest(),
      },
      protocolVersion: PROTOCOL_VERSION,
      profile: profile.name,
      ...(rootfs.user ? { user: rootfs.user } : {}),
      ...(npm ? { npm } : {}),
    });

    let npm: NpmPackage[] | undefined;
    if (rootfs.npmInstall) {
      const { prefix, packages: specs, wrap } = rootfs.npmInstall;
      progress("Installing npm packages in a VM of the image", specs.join(" "));
      const image = stagedImage(name, staging, await describe());
      if (!opts.installNpm) {
        throw new ImageError(
          "Cannot install npm packages: this build was given no way to boot a VM",
        );
      }
      // The prefix may be a directory of its own (the dev image's /opt/agentbox/agents).
      await Deno.mkdir(join(tree, prefix), { recursive: true, mode: 0o755 });
      const installed = await opts.installNpm(image, join(tree, prefix), specs, {
        onProgress: (p) => opts.onStepProgress?.(p),
        onWarning: opts.onWarning,
        workDir: join(work, "npm"),
        guestPrefix: `/${prefix}`,
      });
      npm = installed.packages.map(({ name, version }) => ({ name, version }));
      if (wrap) {
        const wrapped = installed.packages.filter((p) =>
          wrap.packages.some((spec) => packageName(spec) === p.name)
        );
        await writeWrappers(tree, {
          prefix: `/${prefix}`,
          binDir: wrap.binDir,
          commands: wrapped.flatMap((p) => p.bins),
        });
      }
      opts.onStepProgress?.({ label: "packing rootfs.erofs again" });
      await pack();
    }

    progress("Writing the manifest");
    const manifest = await describe(npm);
    await Deno.writeTextFile(join(staging, "manifest.json"), JSON.stringify(manifest, null, 2));
    await Deno.remove(work, { recursive: true });
    await Deno.chmod(staging, 0o755);
    await install(staging, join(opts.imagesDir, name));
    return manifest;
  } finally {
    await held.close();
  }
}

/** Size and SHA-256 of each file of the image in `dir`. */
async function fileDigests(dir: string): Promise<Record<ImageFileName, FileDigest>> {
  const files = {} as Record<ImageFileName, FileDigest>;
  for (const file of IMAGE_FILES) {
    const path = join(dir, file);
    files[file] = { size: (await Deno.stat(path)).size, sha256: await sha256File(path) };
  }
  return files;
}

/** The image being built in `staging`, as `bootVm` takes it. */
function stagedImage(name: string, staging: string, manifest: ImageManifest): ImagePaths {
  return {
    name,
    dir: staging,
    manifest,
    kernel: join(staging, "vmlinuz"),
    initrd: join(staging, "initrd.img"),
    rootfs: join(staging, "rootfs.erofs"),
  };
}

async function kernelRelease(kernelRoot: string): Promise<string> {
  for await (const entry of Deno.readDir(join(kernelRoot, "lib", "modules"))) {
    if (entry.isDirectory) return entry.name;
  }
  throw new ImageError("The kernel package has no /lib/modules/<release> directory");
}

/** Put the finished `staging` directory at `target`, replacing an older image. */
async function install(staging: string, target: string): Promise<void> {
  const old = `${staging}.old`;
  const replacing = await Deno.rename(target, old).then(() => true, (error) => {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  });
  await Deno.rename(staging, target);
  if (replacing) await Deno.remove(old, { recursive: true });
}
