/**
 * Install Debian packages into a bootstrapped tree with the tree's own apt, run in a chroot (root
 * only): the suite, its `-updates` and its `-security` archives, so the image gets the current
 * security fixes. Downloaded `.deb`s are kept in a cache on the host between builds; the tree
 * leaves with no package lists and no `.deb`s.
 *
 * @module
 */

import { join } from "node:path";
import { runCommandLines } from "./command.ts";
import { type DebianSource, HOST_PATH } from "./debootstrap.ts";
import { ImageError } from "./errors.ts";
import type { StepProgress } from "./progress.ts";

/** Options of {@linkcode aptInstall}. */
export interface AptInstallOptions {
  source: DebianSource;
  /** Where `.deb`s are kept between builds (shared with debootstrap's cache). */
  cacheDir: string;
  onProgress?: (progress: StepProgress) => void;
}

/**
 * Upgrade the tree at `root` and install `packages` (without recommended ones) into it.
 *
 * @example
 * ```ts
 * import { aptInstall } from "./chroot_apt.ts";
 * await aptInstall("/tmp/tree", ["git", "jq"], {
 *   source: { suite: "bookworm", mirror: "http://deb.debian.org/debian" },
 *   cacheDir: "/tmp/debs",
 * });
 * ```
 */
export async function aptInstall(
  root: string,
  packages: string[],
  options: AptInstallOptions,
): Promise<void> {
  await Deno.writeTextFile(join(root, "etc/apt/sources.list"), sourcesList(options.source));
  const archives = join(root, "var/cache/apt/archives");
  await shareDebs(options.cacheDir, archives);
  const apt = (label: string, args: string[]) => {
    const progress = new AptProgress();
    return chroot(root, ["apt-get", "-q", ...args], (line) => {
      const status = progress.update(line);
      if (status) options.onProgress?.({ ...status, label: `${label}: ${status.label}` });
    });
  };
  await apt("updating package lists", ["update"]);
  await apt("upgrading", ["-y", "dist-upgrade"]);
  await apt("installing", ["-y", "--no-install-recommends", "install", "--", ...packages]);
  await shareDebs(archives, options.cacheDir);
  await apt("cleaning", ["clean"]);
  await emptyDir(join(root, "var/lib/apt/lists"), (name) => name !== "lock" && name !== "partial");
}

/**
 * The tree's `sources.list`: main of the suite, its updates and its security archive.
 *
 * @example
 * ```ts
 * import { sourcesList } from "./chroot_apt.ts";
 * sourcesList({ suite: "bookworm", mirror: "http://deb.debian.org/debian" });
 * ```
 */
export function sourcesList(source: DebianSource): string {
  const security = source.mirror.replace(/\/debian\/?$/, "/debian-security");
  return [
    `deb ${source.mirror} ${source.suite} main`,
    `deb ${source.mirror} ${source.suite}-updates main`,
    `deb ${security} ${source.suite}-security main`,
    "",
  ].join("\n");
}

/**
 * Progress of one `apt-get` run, read from its ordinary output: the summary line gives the number
 * of packages, then each is fetched (`Get:`), unpacked and set up. apt's machine-readable status
 * (`APT::Status-Fd`) is not used: sharing stdout with it breaks ca-certificates' maintainer script.
 *
 * @example
 * ```ts
 * import { AptProgress } from "./chroot_apt.ts";
 * const progress = new AptProgress();
 * progress.update("0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.");
 * progress.update("Unpacking git (1:2.39.5-0+deb12u2) ...");
 * // { label: "unpacking git", fraction: 0.25 }
 * ```
 */
export class AptProgress {
  #packages = 0;
  #fetched = 0;
  #steps = 0;

  /** The progress after `line`, or undefined when the line says nothing about progress. */
  update(line: string): StepProgress | undefined {
    const summary = line.match(/^(\d+) upgraded, (\d+) newly installed(?:, (\d+) reinstalled)?/);
    if (summary) {
      this.#packages = Number(summary[1]) + Number(summary[2]) + Number(summary[3] ?? 0);
      return { label: `${this.#packages} packages`, fraction: 0 };
    }
    if (/^(Get|Hit):\d+ /.test(line)) {
      this.#fetched++;
      return { label: `fetching ${this.#fetched}` };
    }
    const step = line.match(/^(Unpacking|Setting up) (\S+)/);
    if (!step || this.#packages === 0) return undefined;
    this.#steps = Math.min(this.#steps + 1, 2 * this.#packages);
    return {
      label: `${step[1] === "Unpacking" ? "unpacking" : "setting up"} ${
        step[2].replace(/:\w+$/, "")
      }`,
      fraction: this.#steps / (2 * this.#packages),
    };
  }
}

async function chroot(root: string, argv: string[], onLine: (line: string) => void) {
  await runCommandLines("chroot", [root, ...argv], {
    env: { PATH: HOST_PATH, DEBIAN_FRONTEND: "noninteractive", LANG: "C.UTF-8", HOME: "/root" },
    missingHint: "chroot is part of coreutils",
    onLine,
  });
}

/** Put every `.deb` of `from` that `to` lacks into `to` (a hard link when possible). */
async function shareDebs(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  if (!await Deno.stat(from).then((s) => s.isDirectory, () => false)) return;
  for await (const entry of Deno.readDir(from)) {
    if (!entry.isFile || !entry.name.endsWith(".deb")) continue;
    const target = join(to, entry.name);
    if (await Deno.stat(target).then(() => true, () => false)) continue;
    await Deno.link(join(from, entry.name), target).catch(() =>
      Deno.copyFile(join(from, entry.name), target)
    ).catch((cause) => {
      throw new ImageError(`Cannot copy ${entry.name} into ${to}`, { cause });
    });
  }
}

async function emptyDir(dir: string, remove: (name: string) => boolean): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (remove(entry.name)) await Deno.remove(join(dir, entry.name), { recursive: true });
  }
}
