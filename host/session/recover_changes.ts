/**
 * Recovering the workspace changes of a session whose owner died before collecting them (SIGKILL,
 * a crash of the host): its upper disk and its pinned lower image are still in its state
 * directory, so a VM booted with the two — no network, nothing run — serves the changes exactly
 * as the session's own VM would have, and they are stored as the session's changeset.
 *
 * @module
 */

import { bootVm } from "../vm/boot.ts";
import { changesetPaths } from "../workspace/changeset.ts";
import { tryOwnerLock } from "./owner_lock.ts";
import { pinnedLower, pinnedLowerPath } from "./pinned_lower.ts";
import { SessionError } from "./session_client.ts";
import { sessionPaths } from "./session_paths.ts";
import { type CollectedChanges, resumeWorkspaceSession } from "./workspace_session.ts";

/**
 * Whether session `id` left a workspace to recover (an upper disk and its lower image).
 *
 * @example
 * ```ts
 * import { recoverable } from "./recover_changes.ts";
 * console.assert(!(await recoverable("no-such-session")));
 * ```
 */
export async function recoverable(id: string): Promise<boolean> {
  const { upper, lower } = disks(id);
  const exists = (path: string) => Deno.lstat(path).then((i) => i.isFile, () => false);
  return await exists(upper) && await exists(lower);
}

/**
 * Boot a VM over session `id`'s disks and store its changes. Throws {@linkcode SessionError} when
 * the session's owner is alive (stopping it collects the changes).
 *
 * @example
 * ```ts
 * import { recoverChanges } from "./recover_changes.ts";
 * const { entries } = await recoverChanges("0f3c2a9e-…");
 * ```
 */
export async function recoverChanges(
  id: string,
  options: {
    image?: string;
    /** Called once the session is known to be dead, before the VM boots. */
    onStart?: () => void;
    onWarning?: (message: string) => void;
  } = {},
): Promise<CollectedChanges> {
  const paths = sessionPaths(id);
  const lock = await tryOwnerLock(paths.lock);
  if (!lock) {
    throw new SessionError(
      `Session ${id.slice(0, 8)} is alive: \`agentbox stop\` it, which collects its changes`,
      { code: "session_alive" },
    );
  }
  try {
    options.onStart?.();
    const { upper, lower } = disks(id);
    const workspace = await resumeWorkspaceSession(paths.state, {
      ...await pinnedLower(paths.state),
      upperDisk: upper,
    });
    const vm = await bootVm({
      image: options.image,
      workspace: workspace.share,
      onWarning: options.onWarning,
    });
    try {
      const changes = await workspace.collect(vm.agent);
      await Deno.remove(lower).catch(() => {});
      return changes;
    } finally {
      await vm.stop();
    }
  } finally {
    await Deno.remove(paths.runtime, { recursive: true }).catch(() => {});
    lock.release();
  }
}

function disks(id: string): { upper: string; lower: string } {
  const state = sessionPaths(id).state;
  return { upper: changesetPaths(state).upperDisk, lower: pinnedLowerPath(state) };
}
