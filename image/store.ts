/**
 * Where images live on disk and how to find one: `<imagesDir>/<name>/` holds `vmlinuz`,
 * `initrd.img`, `rootfs.erofs` and `manifest.json`.
 *
 * @module
 */

import { join } from "node:path";
import { ImageError } from "./errors.ts";
import { checkImage, type ImageManifest, readManifest, rebuildHint } from "./manifest.ts";
import { dataDir } from "../host/paths.ts";

/** Name of the image used when none is given. */
export const DEFAULT_IMAGE = "default";

/** A built image and the paths the VM backends need. */
export interface ImagePaths {
  name: string;
  dir: string;
  manifest: ImageManifest;
  kernel: string;
  initrd: string;
  rootfs: string;
}

/**
 * The images directory: `$XDG_DATA_HOME/agentbox/images`, else
 * `~/.local/share/agentbox/images` (root included).
 *
 * @example
 * ```ts
 * import { imagesDir } from "./store.ts";
 * console.log(imagesDir()); // e.g. /root/.local/share/agentbox/images
 * ```
 */
export function imagesDir(): string {
  return join(dataDir(), "images");
}

/** What an image name may be: it becomes a directory name. */
export const IMAGE_NAME_PATTERN: RegExp = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Check that `name` can be an image name (it becomes a directory name).
 *
 * @example
 * ```ts
 * import { validateImageName } from "./store.ts";
 * validateImageName("default"); // ok
 * validateImageName("../x"); // throws ImageError
 * ```
 */
export function validateImageName(name: string): void {
  if (!IMAGE_NAME_PATTERN.test(name)) {
    throw new ImageError(
      `Invalid image name "${name}": use up to 64 lower-case letters, digits, ".", "_" or "-"`,
      { kind: "usage", code: "image_name_invalid" },
    );
  }
}

/**
 * Find a built image and check it is complete and speaks this build's protocol. Throws
 * {@link ImageError} saying exactly how to build it when it is missing or stale.
 *
 * @example
 * ```ts
 * import { findImage } from "./store.ts";
 * const image = await findImage("default");
 * console.log(image.kernel, image.initrd, image.rootfs);
 * ```
 */
export async function findImage(
  name: string = DEFAULT_IMAGE,
  options: { imagesDir?: string } = {},
): Promise<ImagePaths> {
  validateImageName(name);
  const dir = join(options.imagesDir ?? imagesDir(), name);
  const exists = await Deno.stat(join(dir, "manifest.json")).then(() => true, () => false);
  if (!exists) throw new ImageError(`Image "${name}" is not built: ${rebuildHint(name)}`);
  const manifest = await readManifest(dir);
  await checkImage(dir, manifest);
  return {
    name,
    dir,
    manifest,
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
    rootfs: join(dir, "rootfs.erofs"),
  };
}

/** One entry of {@link listImages}: a manifest, or why it could not be read. */
export type ImageListing =
  | { name: string; dir: string; manifest: ImageManifest }
  | { name: string; dir: string; error: ImageError };

/**
 * Every image directory under the images directory, sorted by name. Build leftovers (names
 * starting with a dot) are skipped.
 *
 * @example
 * ```ts
 * import { listImages } from "./store.ts";
 * for (const image of await listImages()) console.log(image.name);
 * ```
 */
export async function listImages(options: { imagesDir?: string } = {}): Promise<ImageListing[]> {
  const root = options.imagesDir ?? imagesDir();
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  names.sort();
  return await Promise.all(names.map(async (name): Promise<ImageListing> => {
    const dir = join(root, name);
    try {
      const manifest = await readManifest(dir);
      await checkImage(dir, manifest);
      return { name, dir, manifest };
    } catch (error) {
      if (!(error instanceof ImageError)) throw error;
      return { name, dir, error };
    }
  }));
}

/**
 * Delete image `name` (its whole directory). Throws {@link ImageError} when there is no such image.
 *
 * @example
 * ```ts
 * import { removeImage } from "./store.ts";
 * await removeImage("dev");
 * ```
 */
export async function removeImage(
  name: string,
  options: { imagesDir?: string } = {},
): Promise<void> {
  validateImageName(name);
  const root = options.imagesDir ?? imagesDir();
  const dir = join(root, name);
  const info = await Deno.lstat(dir).catch(() => undefined);
  if (!info?.isDirectory) {
    throw new ImageError(`No image "${name}" in ${root}: see \`agentbox images list\``, {
      kind: "not_found",
      code: "image_not_found",
    });
  }
  // Renamed first, so that a half-deleted directory is never taken for an image.
  const doomed = join(root, `.${name}.rm-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.rename(dir, doomed);
  await Deno.remove(doomed, { recursive: true });
}
