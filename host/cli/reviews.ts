/**
 * Applies held for review: `agentbox apply --for-review` submits one, `agentbox reviews` lists
 * them, `agentbox review ID accept|reject` decides (accept runs the apply as submitted). The
 * operations are the core's (host/api/reviews.ts); this parses and renders.
 *
 * @module
 */

import { type ApplyRequest } from "../api/apply_changes.ts";
import { cliDecider } from "../api/approvals.ts";
import type { SessionRef } from "../api/changes.ts";
import { type ApiContext, openContext } from "../api/context.ts";
import { decideReview, listReviews, submitReview } from "../api/reviews.ts";
import { escapeControls, jsonSafe, printable } from "../terminal_text.ts";
import { applyExitStatus, printSummary } from "./apply.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs, positiveInt } from "./options.ts";
import { printEvent } from "./print_event.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox reviews`. */
export const REVIEWS_HELP = `List applies held for review (\`agentbox apply --for-review\`).

Usage: agentbox reviews [--session SESSION] [--all] [--limit N] [--json]

STATE is pending, accepted or rejected; PATHS counts the paths the apply would write when it
was submitted; BY says who submitted it and, once decided, who decided (cli:USER, or a server
token's name).

Options:
  --session SESSION  only the reviews of SESSION (a name or id)
  -a, --all          list decided ones too (default: pending only)
  --limit N          at most N, newest first (default 100)
  --json             print a JSON array: id, session, sessionName, project, changeset, request
                     (paths, force, allowSymlinks, exactModes, allowHighRisk), planned (path,
                     action, highRisk), submittedBy, submittedAt, state, decidedBy, decidedAt,
                     result (status and counts, or error)
  -h, --help         show this help

Exit status: 0, 125 usage error.`;

/** Help text of `agentbox review`. */
export const REVIEW_HELP = `Accept or reject an apply held for review.

Usage: agentbox review ID accept|reject [--json]

accept runs the apply exactly as it was submitted (its --path globs and flags; high-risk changes
only if it asked for them) and prints its summary as \`agentbox apply\` does; it is refused if
the session's changes moved since the submission (submit again). reject writes nothing. Either
way the decision is recorded with who made it (cli:USER).

Options:
  --json      print the review (and, for accept, the apply's report) as JSON
  -h, --help  show this help

Exit status: 0 decided (accept: everything applied); 1 accepted, but some paths were held
back, refused or in conflict; 125 usage error, unknown ID, decided already, or stale; 126 the
apply could not run.`;

/**
 * Submit `session`'s changes for review with `request` (from `apply --for-review`); prints the
 * review; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { submitForReview } from "./reviews.ts";
 * await submitForReview(ctx, session, { paths: ["src"] }, { json: false, project: "/p" });
 * ```
 */
export async function submitForReview(
  ctx: ApiContext,
  session: SessionRef,
  request: ApplyRequest,
  options: { json: boolean; project: string },
): Promise<number> {
  const review = await submitReview(ctx, session, {
    paths: request.paths ?? [],
    force: !!request.force,
    allowSymlinks: !!request.allowSymlinks,
    exactModes: !!request.exactModes,
    allowHighRisk: !!request.allowHighRisk,
  }, cliDecider());
  if (options.json) {
    console.log(jsonSafe(JSON.stringify(review)));
    return 0;
  }
  console.error(
    `agentbox: review ${review.id}: ${review.planned.length} path(s) of session ` +
      `${session.id.slice(0, 8)} held for review (project ${printable(options.project)}); ` +
      `decide with \`agentbox review ${review.id} accept|reject\``,
  );
  for (const p of review.planned) {
    console.log(
      escapeControls(
        `  ${p.action ?? "write"} ${p.path}${p.highRisk ? ` (high-risk: ${p.highRisk})` : ""}`,
      ),
    );
  }
  return 0;
}

/**
 * Run `agentbox reviews ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { reviewsCommand } from "./reviews.ts";
 * await reviewsCommand(["--all"]);
 * ```
 */
export function reviewsCommand(args: string[]): Promise<number> {
  return Promise.resolve().then(() => listCommand(args));
}

function listCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs("reviews", args, {
    session: { type: "string" },
    all: { type: "boolean", short: "a" },
    limit: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(REVIEWS_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("reviews takes no arguments: see `agentbox reviews --help`");
  }
  const limit = positiveInt("reviews", "limit", values.limit as string | undefined, 100, 1000);
  using ctx = openContext();
  const reviews = listReviews(ctx, {
    session: values.session as string | undefined,
    pending: !values.all,
    limit,
  });
  if (values.json) {
    console.log(jsonSafe(JSON.stringify(reviews)));
    return 0;
  }
  if (reviews.length === 0) {
    console.error(`agentbox: no ${values.all ? "" : "pending "}reviews`);
    return 0;
  }
  const table = [["ID", "SESSION", "PATHS", "STATE", "SUBMITTED BY", "DECIDED BY", "PROJECT"]];
  for (const r of reviews) {
    table.push([
      String(r.id),
      r.sessionName ?? r.session.slice(0, 8),
      String(r.planned.length),
      r.state,
      escapeControls(r.submittedBy),
      r.decidedBy ? escapeControls(r.decidedBy) : "-",
      escapeControls(r.project),
    ]);
  }
  printTable(table);
  return 0;
}

/**
 * Run `agentbox review ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { reviewCommand } from "./reviews.ts";
 * await reviewCommand(["2", "accept"]);
 * ```
 */
export async function reviewCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("review", args, {
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(REVIEW_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError(
      "Name a review and a decision: usage is `agentbox review ID accept|reject`",
    );
  }
  const [idText, decision] = positionals;
  if (!/^[1-9][0-9]{0,15}$/.test(idText)) {
    throw new UsageError(
      `${JSON.stringify(idText.slice(0, 40))} is not a review id: see \`agentbox reviews\``,
    );
  }
  const json = !!values.json;
  using ctx = openContext({ onEvent: printEvent });
  const { review, summary } = await decideReview(ctx, Number(idText), decision, cliDecider());
  if (json) {
    console.log(jsonSafe(JSON.stringify({ review, applied: summary ?? null })));
    return summary ? applyExitStatus(summary) : 0;
  }
  console.error(
    `agentbox: review ${review.id} ${review.state} by ${escapeControls(review.decidedBy ?? "?")}`,
  );
  if (!summary) return 0;
  printSummary(summary, { session: review.session, project: review.project });
  return applyExitStatus(summary);
}
