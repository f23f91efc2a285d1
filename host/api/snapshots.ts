/**
 * Session snapshots: save a running session under a name (its owner does the saving, asked with
 * the protocol's `session.snapshot`), start new sessions from one — forks that go their own
 * ways, each with its own copies of the disks and its own proxies — list and remove them.
 *
 * @module
 */

import type { LifecycleRecord } from "../store/session_lifecycle.ts";
import { connectSession } from "../session/session_client.ts";
import {
  listSnapshots,
  newSnapshotDir,
  publishSnapshot,
  readSnapshot,
  removeSnapshot,
  type SnapshotInfo,
} from "../session/snapshot_store.ts";
import type { ApiContext } from "./context.ts";
import { parseSandboxSpec } from "./sandbox_spec.ts";
import { startDetachedSession } from "./session_owner.ts";

export type { SnapshotInfo };

/**
 * Save running session `ref` as snapshot `name`; the session runs on. Throws `SnapshotError`
 * (`snapshot_bad_name`, `snapshot_exists`), `SessionError`, or `AgentError` (`snapshot_failed`).
 *
 * @example
 * ```ts
 * import { saveSnapshot } from "./snapshots.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const session = await saveSnapshot(ctx, "web", "before-upgrade");
 * ```
 */
export async function saveSnapshot(
  ctx: ApiContext,
  ref: string,
  name: string,
): Promise<LifecycleRecord> {
  const temp = await newSnapshotDir(name);
  try {
    const { session, agent } = await connectSession(ctx.db, ref);
    try {
      await agent.saveSessionSnapshot(temp);
    } finally {
      agent.close();
    }
    await publishSnapshot(temp, name);
    return session;
  } finally {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

/**
 * Start a new session (named `as`, if given) from snapshot `name`; it runs with the source
 * session's request — its project directory and policy included, wherever this is called from.
 *
 * @example
 * ```ts
 * import { restoreSnapshot } from "./snapshots.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext;
 * const session = await restoreSnapshot(ctx, "before-upgrade", { as: "try-2" });
 * ```
 */
export async function restoreSnapshot(
  ctx: ApiContext,
  name: string,
  options: { as?: string } = {},
): Promise<LifecycleRecord> {
  const snapshot = await readSnapshot(name);
  const spec = parseSandboxSpec(snapshot.manifest.spec, `snapshot ${snapshot.name}`);
  return await startDetachedSession(ctx, {
    name: options.as,
    spec,
    runCommand: false,
    restore: snapshot.name,
  });
}

/**
 * Every snapshot, oldest first.
 *
 * @example
 * ```ts
 * import { listSnapshotInfos } from "./snapshots.ts";
 * for (const s of await listSnapshotInfos()) console.log(s.name);
 * ```
 */
export async function listSnapshotInfos(): Promise<SnapshotInfo[]> {
  return await listSnapshots();
}

/**
 * Remove snapshots `names`; every name is checked before anything is removed.
 *
 * @example
 * ```ts
 * import { removeSnapshots } from "./snapshots.ts";
 * await removeSnapshots(["base", "old"]);
 * ```
 */
export async function removeSnapshots(names: string[]): Promise<void> {
  const snapshots = await Promise.all(names.map(readSnapshot));
  for (const s of snapshots) await removeSnapshot(s.name);
}
