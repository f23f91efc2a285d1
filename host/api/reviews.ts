/**
 * Apply for review (fluid.sh's blocking approval): a session's changes are submitted with the
 * apply they ask for (path globs, flags) and held — nothing is written to the project — until an
 * approver accepts (the apply runs with exactly those decisions, through apply_changes.ts) or
 * rejects them. Who submitted and who decided are recorded, with when.
 *
 * A review is of one changeset: accepting it is refused (`review_stale`) when the session's
 * changes moved since it was submitted (a running session collected again, a new collection):
 * submit again. Nothing of the apply is asked at accept time: high-risk changes go in only when
 * the submission asked for them (`allowHighRisk`), otherwise they are held back as `apply` holds
 * them.
 *
 * Codes thrown here: `review_unknown` (not_found), `review_decided` (conflict: decided already),
 * `review_stale` (conflict), `review_invalid` (usage: a decision or submitter that cannot be
 * used), `nothing_to_review` (state: the request selects nothing to apply); and those of
 * changes.ts and apply_changes.ts (`no_changeset`, `bad_glob`, …).
 *
 * @module
 */

import { z } from "zod";
import { AgentboxError, UsageError } from "../agentbox_error.ts";
import {
  decideReviewRow,
  getReview,
  insertReview,
  queryReviews,
  type ReviewRow,
  setReviewResult,
} from "../store/reviews.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { checkDecider } from "./approvals.ts";
import { applyChanges, type ApplySummary, checkApplyRequest } from "./apply_changes.ts";
import { findChangesSession, type SessionRef } from "./changes.ts";
import type { ApiContext } from "./context.ts";

/** The decisions a reviewer can make. */
export const REVIEW_DECISIONS = ["accept", "reject"] as const;

/** A reviewer's decision. */
export type ReviewDecision = typeof REVIEW_DECISIONS[number];

/** The schema of what a review asks to apply; unknown keys are refused. */
export const REVIEW_REQUEST_SCHEMA = z.strictObject({
  /** Path globs (apply's `--path`); empty: every path. */
  paths: z.array(z.string().min(1).max(4096)).max(1000).default([]),
  force: z.boolean().default(false),
  allowSymlinks: z.boolean().default(false),
  exactModes: z.boolean().default(false),
  allowHighRisk: z.boolean().default(false),
});

/** What a review asks to apply. */
export type ReviewRequest = z.infer<typeof REVIEW_REQUEST_SCHEMA>;

const PLANNED_SCHEMA = z.array(z.strictObject({
  path: z.string(),
  action: z.string().optional(),
  highRisk: z.string().optional(),
}));

const RESULT_SCHEMA = z.union([
  z.strictObject({
    status: z.string(),
    counts: z.record(z.string(), z.number()),
    /** The changeset applied (a running session's may have moved since the check). */
    changeset: z.string(),
  }),
  z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) }),
]);

/** Where a review is. */
export type ReviewState = "pending" | "accepted" | "rejected";

/** A review as front ends see it. Times are milliseconds since the epoch. */
export interface Review {
  id: number;
  session: string;
  sessionName: string | null;
  project: string;
  /** SHA-256 of the changeset under review. */
  changeset: string;
  request: ReviewRequest;
  /** What the apply would do, path by path, when it was submitted (held-back paths left out). */
  planned: z.infer<typeof PLANNED_SCHEMA>;
  submittedBy: string;
  submittedAt: number;
  state: ReviewState;
  decidedBy: string | null;
  decidedAt: number | null;
  /** What the accepted apply did: its status and counts, or the error that stopped it. */
  result: z.infer<typeof RESULT_SCHEMA> | null;
}

/** An accepted review with the apply's summary. */
export interface AcceptedReview {
  review: Review;
  summary?: ApplySummary;
}

/**
 * Submit `session`'s changes for review: plan the apply `request` asks for (nothing is written)
 * and record it, held until {@linkcode decideReview}. Throws `nothing_to_review` when the request
 * would apply nothing, `review_invalid`, and changes.ts's codes.
 *
 * @example
 * ```ts ignore
 * import { submitReview } from "./reviews.ts";
 * const review = await submitReview(ctx, session, { paths: ["src"] }, "cli:alice");
 * ```
 */
export async function submitReview(
  ctx: ApiContext,
  session: SessionRef,
  request: z.input<typeof REVIEW_REQUEST_SCHEMA>,
  by: string,
): Promise<Review> {
  const wanted = parseRequest(request, "the review request");
  checkSubmitter(by);
  checkApplyRequest(wanted);
  const plan = await applyChanges(ctx, session, { ...wanted, dryRun: true });
  const planned = plan.outcomes.filter((o) => o.result === "applied").map((o) => ({
    path: o.path,
    ...(o.action ? { action: o.action } : {}),
    ...(o.highRisk ? { highRisk: o.highRisk } : {}),
  }));
  if (planned.length === 0) {
    throw new AgentboxError(
      "Nothing to review: the request applies no path (see `agentbox diff`, and --path)",
      { kind: "state", code: "nothing_to_review" },
    );
  }
  const { project } = await findChangesSession(ctx, {
    ref: session.id,
    project: "",
    purpose: "apply",
  });
  const id = insertReview(ctx.db, {
    session: session.id,
    project,
    changeset: plan.changeset,
    request: JSON.stringify(wanted),
    paths: JSON.stringify(planned),
    submittedBy: by,
  });
  return reviewOf(ctx, getReview(ctx.db, id)!);
}

/** Which reviews {@linkcode listReviews} returns. */
export interface ReviewFilter {
  /** A session's id (or a long-lived session's name or id prefix). */
  session?: string;
  /** Only those waiting for a decision. */
  pending?: boolean;
  /** At most this many, newest first (default 100, at most 1000). */
  limit?: number;
}

/**
 * Reviews, newest first.
 *
 * @example
 * ```ts ignore
 * import { listReviews } from "./reviews.ts";
 * for (const r of listReviews(ctx, { pending: true })) console.log(r.id, r.planned.length);
 * ```
 */
export function listReviews(ctx: ApiContext, filter: ReviewFilter = {}): Review[] {
  const session = filter.session === undefined
    ? undefined
    : findLifecycle(ctx.db, filter.session)?.id ?? filter.session;
  const limit = Math.min(Math.max(1, filter.limit ?? 100), 1000);
  return queryReviews(ctx.db, { session, pending: filter.pending, limit })
    .map((row) => reviewOf(ctx, row));
}

/**
 * Accept or reject review `id` on behalf of `by`. Accepting runs the apply the review asked for
 * (its summary is returned and recorded); rejecting leaves the project untouched. Throws
 * `review_unknown`, `review_decided`, `review_stale`, `review_invalid`.
 *
 * @example
 * ```ts ignore
 * import { decideReview } from "./reviews.ts";
 * const { review, summary } = await decideReview(ctx, 2, "accept", "token:ops");
 * ```
 */
export async function decideReview(
  ctx: ApiContext,
  id: number,
  decision: string,
  by: string,
): Promise<AcceptedReview> {
  if (!(REVIEW_DECISIONS as readonly string[]).includes(decision)) {
    throw new UsageError(
      `${JSON.stringify(decision.slice(0, 40))} is not a review decision: accept or reject`,
      { code: "review_invalid" },
    );
  }
  checkSubmitter(by);
  const row = getReview(ctx.db, id);
  if (!row) {
    throw new AgentboxError(`No review ${id}: see \`agentbox reviews\``, {
      kind: "not_found",
      code: "review_unknown",
    });
  }
  const decided = (current: ReviewRow) =>
    new AgentboxError(
      `Review ${id} was decided already (${current.decision} by ${current.decidedBy})`,
      { kind: "conflict", code: "review_decided" },
    );
  if (row.decision !== null) throw decided(row);
  if (decision === "reject") {
    if (!recordReviewDecision(ctx, id, "rejected", by)) throw decided(getReview(ctx.db, id)!);
    return { review: reviewOf(ctx, getReview(ctx.db, id)!) };
  }
  const review = reviewOf(ctx, row);
  const session = { id: row.session };
  const check = await applyChanges(ctx, session, { ...review.request, dryRun: true });
  if (check.changeset !== row.changeset) {
    throw new AgentboxError(
      `Review ${id} is stale: the session's changes moved since it was submitted; reject it ` +
        "and submit again",
      { kind: "conflict", code: "review_stale" },
    );
  }
  if (!recordReviewDecision(ctx, id, "accepted", by)) throw decided(getReview(ctx.db, id)!);
  try {
    const summary = await applyChanges(ctx, session, review.request);
    setReviewResult(
      ctx.db,
      id,
      JSON.stringify({
        status: summary.status,
        counts: summary.counts,
        changeset: summary.changeset,
      }),
    );
    return { review: reviewOf(ctx, getReview(ctx.db, id)!), summary };
  } catch (error) {
    const code = error instanceof AgentboxError ? error.code : "apply_failed";
    const message = error instanceof Error ? error.message : String(error);
    setReviewResult(ctx.db, id, JSON.stringify({ error: { code, message } }));
    throw error;
  }
}

/**
 * Write the decision of review `id` unless it has one: the one place a review decision is
 * recorded (an audit event belongs here). Returns false when it was decided already.
 *
 * @example
 * ```ts ignore
 * import { recordReviewDecision } from "./reviews.ts";
 * recordReviewDecision(ctx, 2, "rejected", "cli:alice");
 * ```
 */
export function recordReviewDecision(
  ctx: ApiContext,
  id: number,
  decision: "accepted" | "rejected",
  by: string,
): boolean {
  return decideReviewRow(ctx.db, id, { decision, by });
}

function parseRequest(value: unknown, source: string): ReviewRequest {
  const parsed = REVIEW_REQUEST_SCHEMA.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UsageError(
    `Invalid review request in ${source}: ${issue.path.join(".")}: ${issue.message}`,
    {
      code: "review_invalid",
    },
  );
}

function checkSubmitter(by: string): void {
  try {
    checkDecider(by);
  } catch {
    throw new UsageError(
      "Who submits or decides must be 1 to 128 printable characters (a token name, cli:USER)",
      { code: "review_invalid" },
    );
  }
}

function reviewOf(ctx: ApiContext, row: ReviewRow): Review {
  const state: ReviewState = row.decision === "accepted"
    ? "accepted"
    : row.decision === "rejected"
    ? "rejected"
    : "pending";
  return {
    id: row.id,
    session: row.session,
    sessionName: findLifecycle(ctx.db, row.session)?.name ?? null,
    project: row.project,
    changeset: row.changeset,
    request: parseRequest(JSON.parse(row.request), `review ${row.id}`),
    planned: PLANNED_SCHEMA.parse(JSON.parse(row.paths)),
    submittedBy: row.submittedBy,
    submittedAt: row.submittedAt,
    state,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt,
    result: row.result === null ? null : RESULT_SCHEMA.parse(JSON.parse(row.result)),
  };
}
