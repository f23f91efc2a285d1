/**
 * Which session `agentbox apply` and `agentbox diff` work on: a session's state directory, and the
 * most recent session of a project that has a changeset on disk.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { stateDir } from "../paths.ts";
import type { SessionRecord } from "../store/sessions.ts";
import { baselineRoot } from "./baseline.ts";
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

/** Which project {@linkcode latestSessionWithChanges} looks for. */
export interface LatestSessionOptions {
  /**
   * The project directory, absolute and real (the cwd, or `--share DIR`): a session belongs to it
   * when it was started there or shared it.
   */
  project: string;
  /** Default `$XDG_STATE_HOME/agentbox/sessions`. */
  sessionsDir?: string;
}

/**
 * The most recently started session of `options.project` whose `changes/records.json` exists,
 * or `undefined` when none has one. A session belongs to the project when it was started in that
 * directory or its shared directory (the baseline's root, where apply writes) is it: the latest
 * session of another project is never picked by default.
 *
 * @example
 * ```ts
 * import { latestSessionWithChanges } from "./latest_session.ts";
 * import { openDatabase } from "../store/database.ts";
 * const db = openDatabase(":memory:");
 * console.assert((await latestSessionWithChanges(db, { project: "/p" })) === undefined);
 * ```
 */
export async function latestSessionWithChanges(
  db: DatabaseSync,
  options: LatestSessionOptions,
): Promise<SessionRecord | undefined> {
  const sessionsDir = options.sessionsDir ?? `${stateDir()}/sessions`;
  const rows = db.prepare(
    `SELECT id, started_at AS startedAt, ended_at AS endedAt, tool, project FROM sessions
     ORDER BY started_at DESC, rowid DESC`,
  ).all() as unknown as SessionRecord[];
  for (const row of rows) {
    if (!isPlainId(row.id)) continue;
    const paths = changesetPaths(sessionStateDir(row.id, sessionsDir));
    const info = await Deno.lstat(paths.records).catch(() => null);
    if (!info?.isFile) continue;
    if (row.project === options.project) return row;
    if (await baselineRoot(paths.baseline) === options.project) return row;
  }
  return undefined;
}

function isPlainId(id: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(id);
}
