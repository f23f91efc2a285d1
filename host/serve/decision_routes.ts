/**
 * The human in the loop: graylisted destinations waiting for an answer (`/v1/approvals`) and
 * applies held for review (`/v1/reviews`, submitted with `POST /v1/sandboxes/{id}/changes/review`).
 * Each decision is recorded as the client's (a token's name, or `local:<user>` on the socket).
 * The queue and what each answer means are host/api/approvals.ts and host/api/reviews.ts.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { answerApproval, listApprovals } from "../api/approvals.ts";
import { findChangesSession } from "../api/changes.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import { decideReview, listReviews, submitReview } from "../api/reviews.ts";
import { delay } from "../delay.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { errorReply, jsonReply, SANDBOX_PARAM } from "./schemas.ts";

const errors = {
  400: errorReply("Bad request"),
  404: errorReply("No such thing"),
  409: errorReply("Decided already, expired, or stale"),
} as const;

/** An approval as the API shows it. */
export const APPROVAL = z.object({
  id: z.number().int(),
  session: z.string(),
  sessionName: z.string().nullable(),
  host: z.string(),
  port: z.number().int(),
  rule: z.string(),
  askedAt: z.number().openapi({ description: "ms since the epoch" }),
  deadline: z.number().openapi({ description: "ms since the epoch; no answer by then denies" }),
  state: z.enum(["pending", "decided", "expired"]),
  decision: z.enum(["once", "session", "always", "deny", "timeout"]).nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: z.number().nullable(),
  note: z.string().nullable(),
}).openapi("Approval");

const REVIEW_REQUEST = z.strictObject({
  paths: z.array(z.string().min(1).max(4096)).max(1000).optional().openapi({
    description: "Project-relative paths or globs to apply; absent: all",
  }),
  force: z.boolean().optional(),
  allowSymlinks: z.boolean().optional(),
  exactModes: z.boolean().optional(),
  allowHighRisk: z.boolean().optional(),
}).openapi("ReviewRequest");

/** A review as the API shows it. */
export const REVIEW = z.object({
  id: z.number().int(),
  session: z.string(),
  sessionName: z.string().nullable(),
  project: z.string(),
  changeset: z.string(),
  request: REVIEW_REQUEST,
  planned: z.array(z.object({
    path: z.string(),
    action: z.string().optional(),
    highRisk: z.string().optional(),
  })),
  submittedBy: z.string(),
  submittedAt: z.number(),
  state: z.enum(["pending", "accepted", "rejected"]),
  decidedBy: z.string().nullable(),
  decidedAt: z.number().nullable(),
  result: z.union([
    z.object({
      status: z.string(),
      counts: z.record(z.string(), z.number()),
      changeset: z.string(),
    }),
    z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
  ]).nullable(),
}).openapi("Review");

const ID_PARAM = z.object({
  id: z.string().regex(/^[1-9][0-9]{0,15}$/, "is not an id").openapi({
    param: { name: "id", in: "path" },
  }),
});

const LIST_QUERY = z.object({
  session: z.string().max(200).optional().openapi({ description: "A sandbox's id or name" }),
  all: z.enum(["true", "false"]).optional().openapi({
    description: "Also the decided ones (default: pending only), newest first",
  }),
  limit: z.string().regex(/^[1-9][0-9]{0,3}$/).optional(),
});

/**
 * Add the approval and review routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { decisionRoutes } from "./decision_routes.ts";
 * decisionRoutes(app, deps);
 * ```
 */
export function decisionRoutes(app: ServeApp, deps: ServeDeps): void {
  const { ctx } = deps;
  const filter = (query: z.infer<typeof LIST_QUERY>) => ({
    session: query.session === undefined ? undefined : resolveSessionRef(ctx, query.session),
    pending: query.all !== "true",
    limit: query.limit === undefined ? undefined : Number(query.limit),
  });

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/approvals",
      summary: "Graylisted destinations waiting for an answer (and, with all, recent decisions)",
      request: { query: LIST_QUERY },
      responses: {
        200: jsonReply(z.object({ approvals: z.array(APPROVAL) }), "The approvals"),
        ...errors,
      },
    }),
    (c) => c.json({ approvals: listApprovals(ctx, filter(c.req.valid("query"))) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/approvals/{id}",
      summary: "Answer an approval: once, session, always or deny (recorded as the client's)",
      request: {
        params: ID_PARAM,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ decision: z.enum(["once", "session", "always", "deny"]) }),
            },
          },
        },
      },
      responses: { 200: jsonReply(APPROVAL, "The decided approval"), ...errors },
    }),
    (c) => {
      const { decision } = c.req.valid("json");
      const id = Number(c.req.valid("param").id);
      return c.json(answerApproval(ctx, id, decision, c.get("who")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/changes/review",
      summary: "Submit the changes for review: the apply asked for is held until decided",
      request: {
        params: SANDBOX_PARAM,
        body: { content: { "application/json": { schema: REVIEW_REQUEST } } },
      },
      responses: { 201: jsonReply(REVIEW, "The review, pending"), ...errors },
    }),
    async (c) => {
      const { session } = await findChangesSession(ctx, {
        ref: resolveSessionRef(ctx, c.req.valid("param").id),
        project: deps.defaultProject,
        purpose: "apply",
      });
      const review = await submitReview(ctx, session, c.req.valid("json"), c.get("who"));
      return c.json(review, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/reviews",
      summary: "Applies held for review (and, with all, decided ones)",
      request: { query: LIST_QUERY },
      responses: {
        200: jsonReply(z.object({ reviews: z.array(REVIEW) }), "The reviews"),
        ...errors,
      },
    }),
    (c) => c.json({ reviews: listReviews(ctx, filter(c.req.valid("query"))) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/reviews/{id}",
      summary: "Accept (the apply runs as submitted) or reject a review",
      request: {
        params: ID_PARAM,
        body: {
          content: {
            "application/json": {
              schema: z.strictObject({ decision: z.enum(["accept", "reject"]) }),
            },
          },
        },
      },
      responses: {
        200: jsonReply(
          z.object({
            review: REVIEW,
            applied: z.object({
              status: z.string(),
              changeset: z.string(),
              counts: z.record(z.string(), z.number()),
              outcomes: z.array(z.object({ path: z.string(), result: z.string() }).passthrough()),
            }).nullable(),
          }),
          "The decided review and, for accept, what the apply did",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const id = Number(c.req.valid("param").id);
      const { decision } = c.req.valid("json");
      const { review, summary } = await decideReview(ctx, id, decision, c.get("who"));
      return c.json({ review, applied: summary ?? null }, 200);
    },
  );
}

/** How often the events stream looks for new pending approvals. */
const APPROVAL_POLL_MS = 500;

/**
 * Call `send` with each approval that starts waiting from now on, until `signal` aborts (the
 * `approval` events of `/v1/events`).
 *
 * @example
 * ```ts ignore
 * import { followApprovals } from "./decision_routes.ts";
 * await followApprovals(deps, signal, (approval) => stream.writeSSE({ data: JSON.stringify(approval) }));
 * ```
 */
export async function followApprovals(
  deps: ServeDeps,
  signal: AbortSignal,
  send: (approval: ReturnType<typeof listApprovals>[number]) => Promise<void>,
): Promise<void> {
  const newest = () => listApprovals(deps.ctx, { limit: 1 })[0]?.id ?? 0;
  let seen = newest();
  while (!signal.aborted) {
    await delay(APPROVAL_POLL_MS);
    const fresh = listApprovals(deps.ctx, { pending: true, limit: 1000 })
      .filter((a) => a.id > seen).reverse();
    for (const approval of fresh) {
      seen = Math.max(seen, approval.id);
      await send(approval);
    }
  }
}
