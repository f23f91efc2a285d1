/**
 * The `bench` image profile: the dev image plus OpenSSH's server and client, for benchmarks that
 * compare agentbox with ssh into the same VM (tests/bench/ssh_exec.ts). Nothing starts sshd at
 * boot (the guest's init is busybox's and runs no services), and the host keys the package made
 * in the chroot are removed, so VMs of the image share no private key: a benchmark makes the keys
 * and starts sshd through the agent.
 *
 * @module
 */

import { join } from "node:path";
import { assembleDevRootfs, DEV_PACKAGES, DEV_PROFILE } from "./dev_profile.ts";
import type { ImageProfile } from "./profile.ts";

/** Debian packages the bench image has on top of the dev image's. */
export const BENCH_EXTRA_PACKAGES = ["openssh-server", "openssh-client"];

/**
 * The bench profile.
 *
 * @example
 * ```ts
 * import { BENCH_PROFILE } from "./bench_profile.ts";
 * console.log(BENCH_PROFILE.summary);
 * ```
 */
export const BENCH_PROFILE: ImageProfile = {
  ...DEV_PROFILE,
  name: "bench",
  summary: "the dev image plus openssh-server and openssh-client (sshd not started, no host " +
    "keys), for benchmarks against ssh (needs root to build)",
  assemble: async (dir, context) => {
    const rootfs = await assembleDevRootfs(dir, context, [
      ...DEV_PACKAGES,
      ...BENCH_EXTRA_PACKAGES,
    ]);
    await removeHostKeys(join(dir, "etc/ssh"));
    return rootfs;
  },
};

/** Remove the `ssh_host_*` keys openssh-server's maintainer script made in `sshDir`. */
async function removeHostKeys(sshDir: string): Promise<void> {
  for await (const entry of Deno.readDir(sshDir)) {
    if (entry.name.startsWith("ssh_host_")) await Deno.remove(join(sshDir, entry.name));
  }
}
