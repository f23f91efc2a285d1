/**
 * A Debian root filesystem tree made by `debootstrap` (the minbase variant), with progress read
 * from its `I:` lines, and the list of what a tree has installed. debootstrap must run as
 * root (it chroots to configure the packages); everything after it (`mkfs.erofs`) is rootless.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { runCommand, runCommandLines } from "./command.ts";
import { ImageError } from "./errors.ts";
import type { StepProgress } from "./progress.ts";

/** Where packages come from. */
export interface DebianSource {
  /** Suite or code name, e.g. `bookworm`. */
  suite: string;
  /** Archive URL, e.g. `http://deb.debian.org/debian`. */
  mirror: string;
}

/** Options of {@linkcode debootstrap}. */
export interface DebootstrapOptions extends DebianSource {
  /** Where downloaded `.deb`s are kept between builds. */
  cacheDir: string;
  /** Called as debootstrap advances. */
  onProgress?: (progress: StepProgress) => void;
}

/** One package debootstrap installed. */
export interface InstalledPackage {
  name: string;
  version: string;
  architecture: string;
}

/**
 * The Debian source of this host: its code name (`/etc/os-release`) and Debian's main mirror.
 * Falls back to `bookworm` on hosts that are not Debian.
 *
 * @example
 * ```ts
 * import { hostDebianSource } from "./debootstrap.ts";
 * console.log(await hostDebianSource()); // { suite: "bookworm", mirror: "http://deb.debian.org/debian" }
 * ```
 */
export async function hostDebianSource(): Promise<DebianSource> {
  const osRelease = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const id = osRelease.match(/^ID=(\S+)$/m)?.[1];
  const codename = osRelease.match(/^VERSION_CODENAME=(\S+)$/m)?.[1];
  return {
    suite: id === "debian" && codename ? codename : "bookworm",
    mirror: "http://deb.debian.org/debian",
  };
}

/**
 * Throw {@linkcode ImageError} unless this process runs as root; `what` names the build.
 *
 * @example
 * ```ts
 * import { requireRoot } from "./debootstrap.ts";
 * if (Deno.uid() === 0) requireRoot("the dev image");
 * ```
 */
export function requireRoot(what: string): void {
  if (Deno.uid() !== 0) {
    throw new ImageError(
      `Cannot build ${what} without root: debootstrap installs Debian packages into a chroot ` +
        "(run it as root, e.g. `sudo agentbox images build dev`)",
    );
  }
}

/**
 * Bootstrap Debian's minbase variant into `target` (which must not exist or be empty). Needs root
 * and the `debootstrap` package. More packages are installed with apt in the chroot afterwards
 * (chroot_apt.ts): debootstrap's own resolver cannot order large sets such as npm's.
 *
 * @example
 * ```ts
 * import { debootstrap } from "./debootstrap.ts";
 * await debootstrap("/tmp/tree", {
 *   suite: "bookworm",
 *   mirror: "http://deb.debian.org/debian",
 *   cacheDir: "/tmp/debs",
 * });
 * ```
 */
export async function debootstrap(target: string, options: DebootstrapOptions): Promise<void> {
  requireRoot("a Debian root filesystem");
  await Deno.mkdir(options.cacheDir, { recursive: true });
  const progress = new BootstrapProgress();
  try {
    await runCommandLines("debootstrap", [
      "--variant=minbase",
      `--cache-dir=${options.cacheDir}`,
      // debootstrap takes no "--": the suite is checked instead, the target is absolute.
      suiteName(options.suite),
      resolve(target),
      options.mirror,
    ], {
      env: { PATH: HOST_PATH, DEBIAN_FRONTEND: "noninteractive", LANG: "C.UTF-8" },
      missingHint: "install the debootstrap package",
      onLine: (line) => {
        const status = progress.update(line);
        if (status) options.onProgress?.(status);
      },
    });
  } catch (error) {
    const log = await Deno.readTextFile(join(target, "debootstrap", "debootstrap.log"))
      .then((text) => text.trim().split("\n").slice(-10).join("\n"), () => "");
    if (!log) throw error;
    throw new ImageError(`${(error as Error).message}\ndebootstrap.log:\n${log}`, { cause: error });
  }
}

function suiteName(suite: string): string {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(suite)) throw new ImageError(`Invalid Debian suite "${suite}"`);
  return suite;
}

/** `PATH` of the build's commands, on the host and in the chroot. */
export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Turns debootstrap's `I:` lines into {@linkcode StepProgress}. Every package is retrieved (or
 * found in the cache) and validated first, so that count is the total of the later phases.
 *
 * @example
 * ```ts
 * import { BootstrapProgress } from "./debootstrap.ts";
 * const progress = new BootstrapProgress();
 * progress.update("I: Validating bash 5.2.15-2+b2");
 * progress.update("I: Unpacking bash..."); // { label: "unpacking 1/1", fraction: 1 }
 * ```
 */
export class BootstrapProgress {
  #phase = "";
  #done = 0;
  #packages = 0;

  /** The progress after `line`, or undefined when the line says nothing about progress. */
  update(line: string): StepProgress | undefined {
    // Every package is validated, whether it was downloaded or found in the cache.
    const match = line.match(/^I: (Validating|Extracting|Unpacking|Configuring) \S/);
    if (!match) return undefined;
    const phase = match[1] === "Validating" ? "retrieving" : match[1].toLowerCase();
    if (phase !== this.#phase) {
      this.#phase = phase;
      this.#done = 0;
    }
    this.#done++;
    if (phase === "retrieving") this.#packages = this.#done;
    if ((phase === "unpacking" || phase === "configuring") && this.#packages > 0) {
      const done = Math.min(this.#done, this.#packages);
      return { label: `${phase} ${done}/${this.#packages}`, fraction: done / this.#packages };
    }
    return { label: `${phase} ${this.#done}` };
  }
}

/**
 * The packages installed in the tree at `root`, from its dpkg database, sorted by name.
 *
 * @example
 * ```ts
 * import { installedPackages } from "./debootstrap.ts";
 * for (const p of await installedPackages("/tmp/tree")) console.log(p.name, p.version);
 * ```
 */
export async function installedPackages(root: string): Promise<InstalledPackage[]> {
  const output = await runCommand("dpkg-query", [
    `--admindir=${join(root, "var/lib/dpkg")}`,
    "--show",
    "--showformat=${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\n",
  ], { missingHint: "install dpkg" });
  return output.split("\n")
    .map((line) => line.split("\t"))
    .filter((fields) => fields.length === 4 && fields[0] === "installed")
    .map(([, name, version, architecture]) => ({ name, version, architecture }))
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * The name debootstrap (and apt) gives a package's `.deb` in its cache: `name_version_arch.deb`
 * with the epoch's colon written `%3a`.
 *
 * @example
 * ```ts
 * import { cachedDebName } from "./debootstrap.ts";
 * cachedDebName({ name: "bsdutils", version: "1:2.38.1-5", architecture: "amd64" });
 * // "bsdutils_1%3a2.38.1-5_amd64.deb"
 * ```
 */
export function cachedDebName(p: InstalledPackage): string {
  return `${p.name}_${p.version.replace(":", "%3a")}_${p.architecture}.deb`;
}
