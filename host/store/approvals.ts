/**
 * The approval queue's rows: a graylisted destination a session's proxy holds while it waits for
 * a person (`decision` NULL), and the decision that ended it (`once`, `session`, `always`, `deny`,
 * or `timeout`), who made it and when. Several processes share the table: the one that owns the
 * proxy inserts and waits, any other answers (`agentbox approve`, the server).
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** A row of the approvals table. Times are milliseconds since the epoch. */
export interface ApprovalRow {
  id: number;
  session: string;
  host: string;
  port: number;
  rule: string;
  askedAt: number;
  deadline: number;
  decision: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  /** What happened on the way (an `always` whose allowlist write failed). */
  note: string | null;
}

const COLUMNS = `id, session_id AS session, host, port, rule, asked_at AS askedAt,
  deadline, decision, decided_by AS decidedBy, decided_at AS decidedAt, note`;

/**
 * Record a question; returns its id.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { insertApproval } from "./approvals.ts";
 * const db = openDatabase(":memory:");
 * const { id: session } = createSession(db, {});
 * const id = insertApproval(db, { session, host: "a.test", port: 443, rule: "gray", deadline: Date.now() + 30_000 });
 * ```
 */
export function insertApproval(
  db: DatabaseSync,
  question: Pick<ApprovalRow, "session" | "host" | "port" | "rule" | "deadline">,
): number {
  const row = db.prepare(
    `INSERT INTO approvals (session_id, host, port, rule, asked_at, deadline)
     VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
  ).get(
    question.session,
    question.host,
    question.port,
    question.rule,
    Date.now(),
    question.deadline,
  ) as { id: number };
  return row.id;
}

/**
 * Write the decision of an undecided question; false when it was decided already (by someone
 * else, or by its deadline), in which case nothing is written.
 *
 * @example
 * ```ts ignore
 * import { decideApprovalRow } from "./approvals.ts";
 * decideApprovalRow(db, 1, { decision: "once", by: "cli:alice" });
 * ```
 */
export function decideApprovalRow(
  db: DatabaseSync,
  id: number,
  decision: { decision: string; by: string; at?: number },
): boolean {
  const result = db.prepare(
    `UPDATE approvals SET decision = ?, decided_by = ?, decided_at = ?
     WHERE id = ? AND decision IS NULL`,
  ).run(decision.decision, decision.by, decision.at ?? Date.now(), id);
  return Number(result.changes) === 1;
}

/**
 * Add a note to a question (what its decision did on the way).
 *
 * @example
 * ```ts ignore
 * import { noteApproval } from "./approvals.ts";
 * noteApproval(db, 1, "could not save: read-only file system");
 * ```
 */
export function noteApproval(db: DatabaseSync, id: number, note: string): void {
  db.prepare("UPDATE approvals SET note = ? WHERE id = ?").run(note, id);
}

/**
 * One question by id.
 *
 * @example
 * ```ts ignore
 * import { getApproval } from "./approvals.ts";
 * console.log(getApproval(db, 1)?.decision);
 * ```
 */
export function getApproval(db: DatabaseSync, id: number): ApprovalRow | undefined {
  return db.prepare(`SELECT ${COLUMNS} FROM approvals WHERE id = ?`).get(id) as
    | ApprovalRow
    | undefined;
}

/** Which rows {@linkcode queryApprovals} returns. */
export interface ApprovalQuery {
  session?: string;
  /** Only undecided ones. */
  pending?: boolean;
  /** Only those asked at or after this time. */
  since?: number;
  /** At most this many, newest first (default 100). */
  limit?: number;
}

/**
 * Questions, newest first.
 *
 * @example
 * ```ts ignore
 * import { queryApprovals } from "./approvals.ts";
 * for (const row of queryApprovals(db, { pending: true })) console.log(row.host);
 * ```
 */
export function queryApprovals(db: DatabaseSync, query: ApprovalQuery = {}): ApprovalRow[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.session !== undefined) {
    where.push("session_id = ?");
    params.push(query.session);
  }
  if (query.pending) where.push("decision IS NULL");
  if (query.since !== undefined) {
    where.push("asked_at >= ?");
    params.push(query.since);
  }
  const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  return db.prepare(
    `SELECT ${COLUMNS} FROM approvals ${clause} ORDER BY id DESC LIMIT ?`,
  ).all(...params, query.limit ?? 100) as unknown as ApprovalRow[];
}
