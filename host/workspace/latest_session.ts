/**
 * Which session `agentbox apply` works on: a session's state directory, and the most recent
 * session that has a changeset on disk.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { stateDir } from "../paths.ts";
import type { SessionRecord } from "../store/sessions.ts";
import { changesetPaths } from "./changeset.ts";

/**
 * The state directory of session `id`: `$XDG_STATE_HOME/agentbox/sessions/<id>`.
 *
 * @example
 * ```ts
 * import { sessionStateDir } from "./latest_session.ts";
 * console.log(sessionStateDir("0f3c2a9e")); // e.g. /root/.local/state/agentbox/sessions/0f3c2a9e
 * ```
 */
export function sessionStateDir(id: string, base = `${stateDir()}/sessions`): string {
  if (!isPlainId(id)) {
    throw new Error(`Session id ${JSON.stringify(id)} cannot name a directory`);
  }
  return `${base}/${id}`;
}

/**
 * The most recently started session whose `changes/records.json` exists under `sessionsDir`, or
 * `undefined` when none has one.
 *
 * @example
 * ```ts
 * import { latestSessionWithChanges } from "./latest_session.ts";
 * import { openDatabase } from "../store/database.ts";
 * console.assert((await latestSessionWithChanges(openDatabase(":memory:"))) === undefined);
 * ```
 */
export async function latestSessionWithChanges(
  db: DatabaseSync,
  sessionsDir = `${stateDir()}/sessions`,
): Promise<SessionRecord | undefined> {
  const rows = db.prepare(
    `SELECT id, started_at AS startedAt, ended_at AS endedAt, tool, project FROM sessions
     ORDER BY started_at DESC, rowid DESC`,
  ).all() as unknown as SessionRecord[];
  for (const row of rows) {
    if (!isPlainId(row.id)) continue;
    const records = changesetPaths(sessionStateDir(row.id, sessionsDir)).records;
    const info = await Deno.lstat(records).catch(() => null);
    if (info?.isFile) return row;
  }
  return undefined;
}

function isPlainId(id: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(id);
}
