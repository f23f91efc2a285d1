/**
 * The lifecycle columns of long-lived sessions (`agentbox run --detach`): name, status, owner
 * process and control socket. One-shot `exec`/`run` sessions have no status and are not listed
 * here. What the database says is what the owner last wrote: whether the owner is still alive is
 * checked elsewhere (host/session/session_liveness.ts), never trusted from these rows alone.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** What an owner last recorded about its session. */
export type SessionStatus = "booting" | "running" | "stopping" | "stopped" | "failed";

/** The lifecycle a long-lived session starts with. */
export interface NewLifecycle {
  name?: string;
  ownerPid: number;
}

/** A long-lived session's row. Times are milliseconds since the epoch. */
export interface LifecycleRecord {
  id: string;
  name: string | null;
  status: SessionStatus;
  /** Why the session failed or how its VM ended, when that is worth saying. */
  detail: string | null;
  ownerPid: number | null;
  controlSocket: string | null;
  startedAt: number;
  endedAt: number | null;
  project: string | null;
}

const COLUMNS = `id, name, status, detail, owner_pid AS ownerPid, control_socket AS controlSocket,
  started_at AS startedAt, ended_at AS endedAt, project`;

/** Statuses a listed session can have; `removed` rows are gone for every command but logs. */
const LISTED = "status IS NOT NULL AND status != 'removed'";

/**
 * Record a status change, with an optional detail and control socket.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { setSessionStatus } from "./session_lifecycle.ts";
 * const db = openDatabase(":memory:");
 * const { id } = createSession(db, { lifecycle: { ownerPid: Deno.pid } });
 * setSessionStatus(db, id, "running", { controlSocket: "/run/agentbox/sessions/5d1f0c3e9a2b/ctl.sock" });
 * ```
 */
export function setSessionStatus(
  db: DatabaseSync,
  id: string,
  status: SessionStatus,
  extra: { detail?: string; controlSocket?: string } = {},
): void {
  db.prepare(
    `UPDATE sessions SET status = ?, detail = COALESCE(?, detail),
       control_socket = COALESCE(?, control_socket) WHERE id = ?`,
  ).run(status, extra.detail ?? null, extra.controlSocket ?? null, id);
}

/**
 * Long-lived sessions, most recently started first (removed ones left out).
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { listLifecycles } from "./session_lifecycle.ts";
 * const db = openDatabase(":memory:");
 * createSession(db, { lifecycle: { name: "web", ownerPid: Deno.pid } });
 * console.assert(listLifecycles(db)[0].name === "web");
 * ```
 */
export function listLifecycles(db: DatabaseSync): LifecycleRecord[] {
  return db.prepare(
    `SELECT ${COLUMNS} FROM sessions WHERE ${LISTED} ORDER BY started_at DESC, rowid DESC`,
  ).all() as unknown as LifecycleRecord[];
}

/**
 * A long-lived session by name, full id or unique id prefix (in that order); `undefined` when
 * none or several match.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { findLifecycle } from "./session_lifecycle.ts";
 * const db = openDatabase(":memory:");
 * createSession(db, { id: "0f3c2a9e", lifecycle: { name: "web", ownerPid: Deno.pid } });
 * console.assert(findLifecycle(db, "web")?.id === "0f3c2a9e");
 * console.assert(findLifecycle(db, "0f3")?.name === "web");
 * ```
 */
export function findLifecycle(db: DatabaseSync, ref: string): LifecycleRecord | undefined {
  const byName = db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE ${LISTED} AND name = ?`)
    .get(ref);
  if (byName) return byName as unknown as LifecycleRecord;
  const exact = db.prepare(`SELECT ${COLUMNS} FROM sessions WHERE ${LISTED} AND id = ?`).get(ref);
  if (exact) return exact as unknown as LifecycleRecord;
  const escaped = ref.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = db.prepare(
    `SELECT ${COLUMNS} FROM sessions WHERE ${LISTED} AND id LIKE ? ESCAPE '\\' LIMIT 2`,
  ).all(`${escaped}%`) as unknown as LifecycleRecord[];
  return rows.length === 1 ? rows[0] : undefined;
}

/**
 * Whether a listed session already uses `name`.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { nameTaken } from "./session_lifecycle.ts";
 * console.assert(!nameTaken(openDatabase(":memory:"), "web"));
 * ```
 */
export function nameTaken(db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 FROM sessions WHERE name = ?").get(name) !== undefined;
}

/**
 * Mark a session removed: it leaves every listing and frees its name; its row stays, because the
 * request log refers to it.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { listLifecycles, markRemoved } from "./session_lifecycle.ts";
 * const db = openDatabase(":memory:");
 * markRemoved(db, createSession(db, { lifecycle: { ownerPid: 1 } }).id);
 * console.assert(listLifecycles(db).length === 0);
 * ```
 */
export function markRemoved(db: DatabaseSync, id: string): void {
  db.prepare("UPDATE sessions SET status = 'removed', name = NULL WHERE id = ?").run(id);
}

/**
 * Make stopped session `id` a booting one again (`agentbox start`): ended no more, no detail,
 * and its owner `ownerPid` (null until the new owner records itself).
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { findLifecycle, reopenLifecycle, setSessionStatus } from "./session_lifecycle.ts";
 * const db = openDatabase(":memory:");
 * const { id } = createSession(db, { lifecycle: { name: "web", ownerPid: 1 } });
 * setSessionStatus(db, id, "stopped");
 * reopenLifecycle(db, id, 2);
 * console.assert(findLifecycle(db, "web")?.status === "booting");
 * ```
 */
export function reopenLifecycle(db: DatabaseSync, id: string, ownerPid: number | null): void {
  db.prepare(
    `UPDATE sessions SET status = 'booting', detail = NULL, ended_at = NULL,
       owner_pid = COALESCE(?, owner_pid) WHERE id = ? AND ${LISTED}`,
  ).run(ownerPid, id);
}
