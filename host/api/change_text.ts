/**
 * A diff as text, for front ends that show one: the git-style patch, `--stat` lines, the name list
 * and the JSON document (host/workspace/render_diff.ts, render_stat.ts), plus the end-of-run
 * summary of a session's collected changes. The renderers escape everything the guest wrote.
 *
 * @module
 */

import type { DiffEntry } from "../workspace/classify.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { sessionStateDir } from "../workspace/latest_session.ts";
import { renderStat } from "../workspace/render_stat.ts";

export {
  renderJson,
  renderNameOnly,
  type RenderOptions,
  renderPatch,
} from "../workspace/render_diff.ts";
export { renderStat, type StatOptions } from "../workspace/render_stat.ts";

/**
 * The `--stat` lines of a session's collected changes (`root` is the shared directory), with
 * large new directories collapsed when `collapseAt` is given.
 *
 * @example
 * ```ts ignore
 * import { sessionStat } from "./change_text.ts";
 * for (const line of await sessionStat(id, entries, { root, collapseAt: 20 })) console.log(line);
 * ```
 */
export async function sessionStat(
  sessionId: string,
  entries: DiffEntry[],
  options: { root: string; collapseAt?: number },
): Promise<string[]> {
  const blobs = changesetPaths(sessionStateDir(sessionId)).blobs;
  return await renderStat(entries, { ...options, blobs, color: false });
}
