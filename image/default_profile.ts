/**
 * The `default` image profile: a small root filesystem of busybox, curl, CA certificates, Deno and
 * the guest agent, assembled from extracted packages without root (rootfs.ts).
 *
 * @module
 */

import { ImageError } from "./errors.ts";
import type { ImageProfile } from "./profile.ts";
import { assembleRootfs } from "./rootfs.ts";

/** Packages whose files, with their library closure, make up the default root filesystem. */
export const ROOTFS_PACKAGES = ["busybox-static", "ca-certificates", "curl", "libc6", "libgcc-s1"];

/**
 * The default profile.
 *
 * @example
 * ```ts
 * import { DEFAULT_PROFILE } from "./default_profile.ts";
 * console.log(DEFAULT_PROFILE.packages.join(" "));
 * ```
 */
export const DEFAULT_PROFILE: ImageProfile = {
  name: "default",
  summary: "busybox, curl, CA certificates, Deno and the agent (small, no root needed)",
  packages: ROOTFS_PACKAGES,
  async assemble(dir, context) {
    if (context.npmPackages.length > 0) {
      throw new ImageError(
        "The default profile has no Node.js for npm packages: use the dev profile",
      );
    }
    const used = await assembleRootfs(dir, context);
    return { used };
  },
};
