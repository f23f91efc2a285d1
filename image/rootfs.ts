/**
 * The guest root filesystem: a merged-/usr tree assembled from extracted Debian packages (busybox,
 * curl and its libraries, CA certificates), the Deno binary and its libraries, the bundled agent
 * and the stage 2 files — then packed read-only with `mkfs.erofs` (rootless, uncompressed).
 *
 * @module
 */

import { dirname, join, posix } from "node:path";
import { runCommand } from "./command.ts";
import { ImageError } from "./errors.ts";
import {
  addLibraries,
  addPackagedPath,
  type ExtractedPackage,
  locate,
  type PlannedFile,
} from "./libraries.ts";
import { installAgentboxFiles, installFile, writeGuestFiles } from "./agentbox_files.ts";
import { minimalUserFiles } from "./stage2.ts";

/** What goes into the root filesystem besides Debian packages. */
export interface RootfsInputs {
  /** Extracted packages; must include busybox-static, curl's closure and ca-certificates. */
  packages: ExtractedPackage[];
  /** Host path of the Deno binary to install as `/usr/bin/deno`. */
  deno: string;
  /** Host path of the bundled agent to install as `/opt/agentbox/agent.js`. */
  agent: string;
}

const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

const DIRECTORIES: [string, number][] = [
  ["usr/bin", 0o755],
  ["usr/sbin", 0o755],
  ["usr/lib", 0o755],
  ["usr/lib64", 0o755],
  ["usr/local/bin", 0o755],
  ["dev", 0o755],
  ["proc", 0o555],
  ["sys", 0o555],
  ["run", 0o755],
  ["tmp", 0o1777],
  ["var/tmp", 0o1777],
  ["root", 0o700],
  ["home", 0o755],
  ["mnt", 0o755],
  ["etc/ssl/certs", 0o755],
  ["opt/agentbox", 0o755],
];

const MERGED_USR_LINKS = [["bin", "usr/bin"], ["sbin", "usr/sbin"], ["lib", "usr/lib"], [
  "lib64",
  "usr/lib64",
]];

/**
 * Assemble the root filesystem tree in `dir` (which must not exist). Returns the names of the
 * Debian packages that contributed files.
 *
 * @example
 * ```ts
 * import { assembleRootfs } from "./rootfs.ts";
 * const used = await assembleRootfs("/tmp/rootfs", {
 *   packages: [{ name: "busybox-static", root: "/tmp/x/busybox-static" }],
 *   deno: "node_modules/@deno/linux-x64-glibc/deno",
 *   agent: "/tmp/agent.js",
 * });
 * ```
 */
export async function assembleRootfs(dir: string, inputs: RootfsInputs): Promise<Set<string>> {
  const { packages } = inputs;
  const plan = new Map<string, PlannedFile>();
  const used = new Set<string>();

  for (const [path, mode] of DIRECTORIES) {
    await Deno.mkdir(join(dir, path), { recursive: true });
    await Deno.chmod(join(dir, path), mode);
  }
  for (const [link, target] of MERGED_USR_LINKS) await Deno.symlink(target, join(dir, link));

  const busybox = await addPackagedPath(plan, packages, "/bin/busybox");
  const curl = await addPackagedPath(plan, packages, "/usr/bin/curl");
  await addLibraries(plan, packages, [curl.source, inputs.deno]);
  for (const file of plan.values()) used.add(file.package);
  await materialize(dir, plan);

  for (const applet of await busyboxApplets(busybox.source)) {
    const guestPath = `/usr/${applet.replace(/^usr\//, "")}`;
    const path = join(dir, guestPath);
    const exists = await Deno.lstat(path).then(() => true, () => false);
    // Relative, so that stage 1 can check /newroot/sbin/init before switch_root.
    if (!exists) await Deno.symlink(posix.relative(dirname(guestPath), busybox.guestPath), path);
  }

  used.add(await writeCaBundle(join(dir, CA_BUNDLE), packages));
  await installAgentboxFiles(dir, { deno: inputs.deno, agent: inputs.agent });
  await writeGuestFiles(dir, minimalUserFiles());
  return used;
}

async function materialize(dir: string, plan: Map<string, PlannedFile>): Promise<void> {
  for (const [path, file] of plan) {
    const destination = join(dir, path);
    await Deno.mkdir(dirname(destination), { recursive: true });
    if (file.type === "symlink") await Deno.symlink(file.target, destination);
    else {
      await installFile(file.source, destination, (await Deno.stat(file.source)).mode! & 0o7777);
    }
  }
}

/**
 * Install paths of busybox's applets (`usr/bin/sh`, `sbin/init`, …) as the binary lists them.
 *
 * @example
 * ```ts
 * import { busyboxApplets } from "./rootfs.ts";
 * console.log(await busyboxApplets("/tmp/x/busybox-static/bin/busybox"));
 * ```
 */
export async function busyboxApplets(busybox: string): Promise<string[]> {
  return (await runCommand(busybox, ["--list-full"])).split("\n").filter(Boolean);
}

/**
 * Write the CA bundle the way `update-ca-certificates` would with its default configuration:
 * every certificate the ca-certificates package ships, concatenated. Returns the package name.
 */
async function writeCaBundle(path: string, packages: ExtractedPackage[]): Promise<string> {
  const certs = "/usr/share/ca-certificates/mozilla";
  const found = await locate(packages, `${certs}/ISRG_Root_X1.crt`);
  const pkg = packages.find((p) => p.name === found?.package);
  if (!pkg) throw new ImageError("The ca-certificates package is missing from the image build");
  const names: string[] = [];
  for await (const entry of Deno.readDir(join(pkg.root, certs))) {
    if (entry.name.endsWith(".crt")) names.push(entry.name);
  }
  names.sort();
  const pems = await Promise.all(names.map((n) => Deno.readTextFile(join(pkg.root, certs, n))));
  await Deno.writeTextFile(path, pems.map((pem) => pem.trimEnd() + "\n").join(""));
  return pkg.name;
}

/**
 * Pack `dir` into a read-only erofs image at `output` with `mkfs.erofs` (no root needed). Every
 * file belongs to root unless `keepOwnership` keeps the tree's owners.
 *
 * @example
 * ```ts
 * import { makeErofs } from "./rootfs.ts";
 * await makeErofs("/tmp/rootfs", "/tmp/rootfs.erofs");
 * ```
 */
export async function makeErofs(
  dir: string,
  output: string,
  options: { keepOwnership?: boolean } = {},
): Promise<void> {
  // Uncompressed: under TCG, decompressing the ~100 MB Deno binary as the agent starts costs
  // more boot time (~0.3 s) than the extra 46 MB of disk is worth.
  const owners = options.keepOwnership ? [] : ["--all-root"];
  const args = [...owners, "-T0", "--quiet", output, dir];
  await runCommand("mkfs.erofs", args, { missingHint: "install erofs-utils" });
}
