/**
 * Session rows: one per sandbox run, the key every request row hangs off.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { NewLifecycle } from "./session_lifecycle.ts";

/** A recorded session. Times are milliseconds since the epoch. */
export interface SessionRecord {
  id: string;
  startedAt: number;
  endedAt: number | null;
  tool: string | null;
  project: string | null;
}

/**
 * Record a new session and return it. The id is random unless given.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * const session = createSession(openDatabase(":memory:"), { tool: "claude" });
 * ```
 */
export function createSession(
  db: DatabaseSync,
  info: { id?: string; tool?: string; project?: string; lifecycle?: NewLifecycle } = {},
): SessionRecord {
  const record: SessionRecord = {
    id: info.id ?? crypto.randomUUID(),
    startedAt: Date.now(),
    endedAt: null,
    tool: info.tool ?? null,
    project: info.project ?? null,
  };
  db.prepare(
    `INSERT INTO sessions (id, started_at, tool, project, name, status, owner_pid)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    record.id,
    record.startedAt,
    record.tool,
    record.project,
    info.lifecycle?.name ?? null,
    info.lifecycle ? "booting" : null,
    info.lifecycle?.ownerPid ?? null,
  );
  return record;
}

/**
 * Mark a session ended now.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession, endSession } from "./sessions.ts";
 * const db = openDatabase(":memory:");
 * endSession(db, createSession(db).id);
 * ```
 */
export function endSession(db: DatabaseSync, id: string): void {
  db.prepare("UPDATE sessions SET ended_at = ? WHERE id = ?").run(Date.now(), id);
}

/**
 * Find a session by full id or unique prefix; `undefined` when none or several match.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession, findSession } from "./sessions.ts";
 * const db = openDatabase(":memory:");
 * const s = createSession(db, { id: "abc123" });
 * console.assert(findSession(db, "abc")?.id === "abc123");
 * ```
 */
export function findSession(db: DatabaseSync, idOrPrefix: string): SessionRecord | undefined {
  const columns = "id, started_at AS startedAt, ended_at AS endedAt, tool, project";
  const exact = db.prepare(`SELECT ${columns} FROM sessions WHERE id = ?`).get(idOrPrefix);
  if (exact) return exact as unknown as SessionRecord;
  const escaped = idOrPrefix.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = db.prepare(`SELECT ${columns} FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 2`)
    .all(`${escaped}%`) as unknown as SessionRecord[];
  return rows.length === 1 ? rows[0] : undefined;
}

/**
 * Sessions, most recently started first (at most `limit`).
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession, recentSessions } from "./sessions.ts";
 * const db = openDatabase(":memory:");
 * createSession(db, { id: "a" });
 * console.assert(recentSessions(db)[0].id === "a");
 * ```
 */
export function recentSessions(db: DatabaseSync, limit = 1000): SessionRecord[] {
  return db.prepare(
    `SELECT id, started_at AS startedAt, ended_at AS endedAt, tool, project FROM sessions
     ORDER BY started_at DESC, rowid DESC LIMIT ?`,
  ).all(limit) as unknown as SessionRecord[];
}

/**
 * One-shot sessions (`exec`, `run` without `--detach`) not yet removed, most recent first; with
 * `ref`, only the one whose id is `ref` or uniquely starts with it.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession, listOneShots } from "./sessions.ts";
 * const db = openDatabase(":memory:");
 * createSession(db, { id: "a1" });
 * createSession(db, { id: "b2", lifecycle: { ownerPid: 1 } });
 * console.assert(listOneShots(db).map((s) => s.id).join() === "a1");
 * console.assert(listOneShots(db, "a").length === 1);
 * ```
 */
export function listOneShots(db: DatabaseSync, ref?: string): SessionRecord[] {
  const columns = "id, started_at AS startedAt, ended_at AS endedAt, tool, project";
  if (ref === undefined) {
    return db.prepare(
      `SELECT ${columns} FROM sessions WHERE status IS NULL
       ORDER BY started_at DESC, rowid DESC`,
    ).all() as unknown as SessionRecord[];
  }
  const exact = db.prepare(`SELECT ${columns} FROM sessions WHERE status IS NULL AND id = ?`)
    .all(ref) as unknown as SessionRecord[];
  if (exact.length === 1) return exact;
  const escaped = ref.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = db.prepare(
    `SELECT ${columns} FROM sessions WHERE status IS NULL AND id LIKE ? ESCAPE '\\' LIMIT 2`,
  ).all(`${escaped}%`) as unknown as SessionRecord[];
  return rows.length === 1 ? rows : [];
}
