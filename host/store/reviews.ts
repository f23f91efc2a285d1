/**
 * The review table's rows: an apply of a session's changes held until someone accepts or rejects
 * it (host/api/reviews.ts). `request` and `paths` are JSON the core wrote and validates again on
 * reading; `result` is what the accepted apply did.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** A row of the reviews table. Times are milliseconds since the epoch. */
export interface ReviewRow {
  id: number;
  session: string;
  project: string;
  /** SHA-256 of the changeset reviewed (`ApplySummary.changeset`). */
  changeset: string;
  /** JSON: the apply request (path globs, flags). */
  request: string;
  /** JSON: what the apply would do, path by path, when it was submitted. */
  paths: string;
  submittedBy: string;
  submittedAt: number;
  decision: string | null;
  decidedBy: string | null;
  decidedAt: number | null;
  /** JSON: what the accepted apply did (or why it could not). */
  result: string | null;
}

const COLUMNS = `id, session_id AS session, project, changeset, request, paths,
  submitted_by AS submittedBy, submitted_at AS submittedAt, decision, decided_by AS decidedBy,
  decided_at AS decidedAt, result`;

/**
 * Record a review request; returns its id.
 *
 * @example
 * ```ts ignore
 * import { insertReview } from "./reviews.ts";
 * const id = insertReview(db, { session, project: "/src/app", changeset, request: "{}", paths: "[]", submittedBy: "cli:alice" });
 * ```
 */
export function insertReview(
  db: DatabaseSync,
  review: Pick<
    ReviewRow,
    "session" | "project" | "changeset" | "request" | "paths" | "submittedBy"
  >,
): number {
  const row = db.prepare(
    `INSERT INTO reviews (session_id, project, changeset, request, paths, submitted_by,
       submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ).get(
    review.session,
    review.project,
    review.changeset,
    review.request,
    review.paths,
    review.submittedBy,
    Date.now(),
  ) as { id: number };
  return row.id;
}

/**
 * Write the decision of an undecided review; false when it has one already.
 *
 * @example
 * ```ts ignore
 * import { decideReviewRow } from "./reviews.ts";
 * decideReviewRow(db, 1, { decision: "rejected", by: "cli:alice" });
 * ```
 */
export function decideReviewRow(
  db: DatabaseSync,
  id: number,
  decision: { decision: string; by: string },
): boolean {
  const result = db.prepare(
    `UPDATE reviews SET decision = ?, decided_by = ?, decided_at = ?
     WHERE id = ? AND decision IS NULL`,
  ).run(decision.decision, decision.by, Date.now(), id);
  return Number(result.changes) === 1;
}

/**
 * Record what an accepted review's apply did.
 *
 * @example
 * ```ts ignore
 * import { setReviewResult } from "./reviews.ts";
 * setReviewResult(db, 1, JSON.stringify({ status: "applied" }));
 * ```
 */
export function setReviewResult(db: DatabaseSync, id: number, result: string): void {
  db.prepare("UPDATE reviews SET result = ? WHERE id = ?").run(result, id);
}

/**
 * One review by id.
 *
 * @example
 * ```ts ignore
 * import { getReview } from "./reviews.ts";
 * console.log(getReview(db, 1)?.decision);
 * ```
 */
export function getReview(db: DatabaseSync, id: number): ReviewRow | undefined {
  return db.prepare(`SELECT ${COLUMNS} FROM reviews WHERE id = ?`).get(id) as
    | ReviewRow
    | undefined;
}

/**
 * Reviews, newest first: of `session` if given, undecided only with `pending`.
 *
 * @example
 * ```ts ignore
 * import { queryReviews } from "./reviews.ts";
 * for (const row of queryReviews(db, { pending: true, limit: 10 })) console.log(row.id);
 * ```
 */
export function queryReviews(
  db: DatabaseSync,
  query: { session?: string; pending?: boolean; limit?: number } = {},
): ReviewRow[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.session !== undefined) {
    where.push("session_id = ?");
    params.push(query.session);
  }
  if (query.pending) where.push("decision IS NULL");
  const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
  return db.prepare(`SELECT ${COLUMNS} FROM reviews ${clause} ORDER BY id DESC LIMIT ?`)
    .all(...params, query.limit ?? 100) as unknown as ReviewRow[];
}
