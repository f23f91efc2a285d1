/**
 * A long-lived session's own reference to its lower image. Shares cache their read-only image per
 * project and delete an older one when the project changes, but a session that may have to be
 * recovered after a crash (host/session/recover_changes.ts) needs the very image its upper layer
 * was written over. So the session keeps a hard link to it in its state directory (a copy when the
 * cache is on another file system): `<state>/workspace/lower.erofs`, and, when the image carries
 * delta layers (host/workspace/share_layers.ts), the offsets of the layers the session started
 * with in `<state>/workspace/lower-layers.json` (a later session of the project may append more
 * to the same file; they are not this session's).
 *
 * @module
 */

import { ChangesetError, changesetPaths } from "../workspace/changeset.ts";

/**
 * Where the session in `sessionDir` keeps its lower image.
 *
 * @example
 * ```ts
 * import { pinnedLowerPath } from "./pinned_lower.ts";
 * console.log(pinnedLowerPath("/state/sessions/abc")); // /state/sessions/abc/workspace/lower.erofs
 * ```
 */
export function pinnedLowerPath(sessionDir: string): string {
  return `${changesetPaths(sessionDir).root}/lower.erofs`;
}

/**
 * Where the session in `sessionDir` keeps the offsets of its lower image's delta layers.
 *
 * @example
 * ```ts
 * import { pinnedLayersPath } from "./pinned_lower.ts";
 * console.log(pinnedLayersPath("/state/sessions/abc")); // …/workspace/lower-layers.json
 * ```
 */
export function pinnedLayersPath(sessionDir: string): string {
  return `${changesetPaths(sessionDir).root}/lower-layers.json`;
}

/**
 * Link (or copy) `share.lowerImage` into the session's state directory, and record its layers;
 * returns the pinned path.
 *
 * @example
 * ```ts
 * import { pinLowerImage } from "./pinned_lower.ts";
 * declare const share: { lowerImage: string; lowerLayers: number[] };
 * const lower = await pinLowerImage(share, "/state/sessions/abc");
 * ```
 */
export async function pinLowerImage(
  share: { lowerImage: string; lowerLayers?: number[] },
  sessionDir: string,
): Promise<string> {
  const pinned = pinnedLowerPath(sessionDir);
  await Deno.remove(pinned).catch(() => {});
  try {
    await Deno.link(share.lowerImage, pinned);
  } catch {
    await Deno.copyFile(share.lowerImage, pinned);
  }
  await Deno.writeTextFile(pinnedLayersPath(sessionDir), JSON.stringify(share.lowerLayers ?? []), {
    mode: 0o600,
  });
  return pinned;
}

/**
 * The pinned lower image of the session in `sessionDir` and its layers (none recorded: none).
 * Throws `ChangesetError` when the recorded layers are corrupt.
 *
 * @example
 * ```ts
 * import { pinnedLower } from "./pinned_lower.ts";
 * const { lowerImage, lowerLayers } = await pinnedLower("/state/sessions/abc");
 * ```
 */
export async function pinnedLower(
  sessionDir: string,
): Promise<{ lowerImage: string; lowerLayers: number[] }> {
  const path = pinnedLayersPath(sessionDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { lowerImage: pinnedLowerPath(sessionDir), lowerLayers: [] };
    }
    throw error;
  }
  let layers: unknown;
  try {
    layers = JSON.parse(text);
  } catch {
    layers = undefined;
  }
  if (
    !Array.isArray(layers) || !layers.every((n) => Number.isSafeInteger(n) && n > 0)
  ) {
    throw new ChangesetError(`The session's layer list ${path} is corrupt`);
  }
  return { lowerImage: pinnedLowerPath(sessionDir), lowerLayers: layers };
}
