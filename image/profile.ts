/**
 * What differs between images: an image profile says which Debian packages the host downloads
 * for it and how its root filesystem tree is assembled. The rest of the build (kernel, initrd,
 * agent bundle, erofs, manifest) is the same for every profile (build.ts).
 *
 * @module
 */

import type { ExtractedPackage } from "./libraries.ts";
import type { DebianPackage, ImageUser } from "./manifest.ts";
import type { StepProgress } from "./progress.ts";

/** What a profile gets to assemble its tree from. */
export interface RootfsContext {
  /** The profile's `packages` (with their dependency closure), extracted. */
  packages: ExtractedPackage[];
  /** Host path of the Deno binary for `/usr/bin/deno`. */
  deno: string;
  /** Host path of the bundled guest agent. */
  agent: string;
  /** Where `.deb`s are cached between builds. */
  debCacheDir: string;
  /** Progress within the assembly step. */
  onProgress: (progress: StepProgress) => void;
  /**
   * npm packages to install globally (the agent CLIs); only profiles with npm can. The profile
   * does not install them itself: it names them in {@linkcode AssembledRootfs.npmInstall}.
   */
  npmPackages: string[];
}

/** What a profile's assembly produced, for the packing and the manifest. */
export interface AssembledRootfs {
  /** Names of the extracted `packages` that contributed files. */
  used: Set<string>;
  /** Further Debian packages in the tree (installed by the profile itself). */
  packages?: DebianPackage[];
  /** The default user of commands (absent: root). */
  user?: ImageUser;
  /**
   * npm packages to install globally — not in the tree on the host, but in a VM booted from the
   * image built from the tree, whose `/usr/local` is the tree's `prefix` (host/api/npm_install.ts).
   */
  npmInstall?: NpmInstallPlan;
  /** Keep the tree's owners in the image (else every file belongs to root). */
  keepOwnership?: boolean;
}

/**
 * npm packages a profile wants installed (in a VM of the image) under `prefix`, a tree-relative
 * path the guest sees as `/<prefix>`.
 */
export interface NpmInstallPlan {
  prefix: string;
  packages: string[];
  /**
   * Commands to put on PATH: each command of these packages gets a wrapper in `binDir`
   * (tree-relative) that runs it with the Node installed under the prefix (`<prefix>/bin/node`),
   * which itself stays off PATH.
   */
  wrap?: { binDir: string; packages: string[] };
}

/**
 * A kind of image.
 *
 * @example
 * ```ts
 * import type { ImageProfile } from "./profile.ts";
 * const empty: ImageProfile = {
 *   name: "empty",
 *   summary: "nothing but busybox",
 *   packages: ["busybox-static"],
 *   assemble: () => Promise.resolve({ used: new Set(["busybox-static"]) }),
 * };
 * ```
 */
export interface ImageProfile {
  name: string;
  /** One line for `images build --help`. */
  summary: string;
  /** Debian packages the host downloads and extracts for the tree (closure added). */
  packages: string[];
  /** Whether the image has Node.js, so that agent CLIs can be installed with npm (`--agents`). */
  npm?: boolean;
  /** Throws `ImageError` when this host cannot build the profile, before anything is done. */
  preflight?(): void;
  /** Build the tree in `dir` (which does not exist yet). */
  assemble(dir: string, context: RootfsContext): Promise<AssembledRootfs>;
}
