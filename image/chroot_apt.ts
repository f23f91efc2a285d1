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
 * ```ts ignore
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
  const apt = (label: string, args: string[]) =>
    chroot(root, ["apt-get", "-qq", "-o", "APT::Status-Fd=1", ...args], (line) => {
      const progress = aptProgress(line);
      if (progress) options.onProgress?.({ ...progress, label: `${label}: ${progress.label}` });
    });
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
 * Read one line of apt's status output (`APT::Status-Fd`): `dlstatus:` while downloading,
 * `pmstatus:` while installing, with a percentage.
 *
 * @example
 * ```ts
 * import { aptProgress } from "./chroot_apt.ts";
 * aptProgress("pmstatus:git:42.5:Unpacking git (amd64)");
 * // { label: "Unpacking git (amd64)", fraction: 0.425 }
 * ```
 */
export function aptProgress(line: string): StepProgress | undefined {
  const match = line.match(/^(?:dl|pm)status:[^:]*:([0-9.]+):(.*)$/);
  if (!match) return undefined;
  const percent = Number(match[1]);
  return {
    label: match[2].slice(0, 60),
    fraction: Number.isFinite(percent) ? Math.min(1, Math.max(0, percent / 100)) : undefined,
  };
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
