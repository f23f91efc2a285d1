/**
 * A long-lived session's own reference to its lower image. Shares cache their read-only image per
 * project and delete an older one when the project changes, but a session that may have to be
 * recovered after a crash (host/session/recover_changes.ts) needs the very image its upper layer
 * was written over. So the session keeps a hard link to it in its state directory (a copy when the
 * cache is on another file system): `<state>/workspace/lower.erofs`.
 *
 * @module
 */

import { changesetPaths } from "../workspace/changeset.ts";

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
 * Link (or copy) `lowerImage` into the session's state directory; returns the pinned path.
 *
 * @example
 * ```ts
 * import { pinLowerImage } from "./pinned_lower.ts";
 * declare const share: { lowerImage: string };
 * const lower = await pinLowerImage(share.lowerImage, "/state/sessions/abc");
 * ```
 */
export async function pinLowerImage(lowerImage: string, sessionDir: string): Promise<string> {
  const pinned = pinnedLowerPath(sessionDir);
  await Deno.remove(pinned).catch(() => {});
  try {
    await Deno.link(lowerImage, pinned);
  } catch {
    await Deno.copyFile(lowerImage, pinned);
  }
  return pinned;
}
