/**
 * The approval queue: graylisted destinations asked across processes, through the database. The
 * process that owns a session's proxy (a detached session's owner, the server's sandboxes)
 * records a pending approval (session, host, port, rule, asked-at, deadline), holds the
 * connection and waits for its decision row; anyone else lists the pending ones and answers
 * (`agentbox approvals`/`agentbox approve`, the server's `/v1/approvals`). What an answer means
 * (once, session, always, deny; no answer by the deadline denies, recorded as `timeout`) is
 * approval_gate.ts's, shared with the terminal prompt.
 *
 * Every decision goes through {@linkcode recordDecision} — the one place it is written, with who
 * made it (`decidedBy`: a server token's name, `cli:<unix user>`, or `agentbox` for a timeout)
 * and when.
 *
 * Codes thrown here: `approval_unknown` (not_found), `approval_decided` (conflict: answered
 * already), `approval_expired` (state: its deadline passed), `approval_invalid` (usage: a
 * decision or a `decidedBy` that cannot be used); `session_unknown` from a `session` filter.
 *
 * @module
 */

import { userInfo } from "node:os";
import { AgentboxError, UsageError } from "../agentbox_error.ts";
import { findProjectFile } from "../config/project_file.ts";
import { addToProjectAllowlist } from "../config/project_allowlist.ts";
import {
  type ApprovalRow,
  decideApprovalRow,
  getApproval,
  insertApproval,
  noteApproval,
  queryApprovals,
} from "../store/approvals.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import {
  approvalGate,
  type ApprovalOutcome,
  type ApprovalRequest,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  isApprovalDecision,
  type Settled,
} from "./approval_gate.ts";
import { emitAudit } from "./audit.ts";
import type { ApiContext } from "./context.ts";
import { resolveSessionRef } from "./network_records.ts";

export {
  APPROVAL_DECISIONS,
  type ApprovalDecision,
  type ApprovalOutcome,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  isApprovalDecision,
} from "./approval_gate.ts";

/** Who decides when nobody answered in time. */
export const TIMEOUT_DECIDER = "agentbox";

/** How often a waiting owner looks for a decision. */
const POLL_MS = 200;

/** Where an approval is: waiting, answered (or timed out), or past its deadline unanswered. */
export type ApprovalState = "pending" | "decided" | "expired";

/** An approval as front ends see it. Times are milliseconds since the epoch. */
export interface Approval {
  id: number;
  session: string;
  /** The session's name, when it has one. */
  sessionName: string | null;
  host: string;
  port: number;
  /** The policy rule that graylisted it. */
  rule: string;
  askedAt: number;
  deadline: number;
  /**
   * `expired`: its deadline passed and no decision was written (its owner ended first); it is
   * denied all the same.
   */
  state: ApprovalState;
  decision: ApprovalOutcome | null;
  decidedBy: string | null;
  decidedAt: number | null;
  note: string | null;
}

/** Options of {@linkcode queueApprover}. */
export interface ApprovalQueueOptions {
  /** How long a question waits (default {@linkcode DEFAULT_APPROVAL_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** The project whose allowlist an `always` widens. */
  projectDir: string;
  /** Test seam: how often the database is read while a question waits (default 200 ms). */
  pollMs?: number;
  /**
   * Also ask here (a terminal): its answer is recorded as `localDecider`'s, and first answer
   * wins; when someone else answers first, `signal` aborts and its `settle` returns what they
   * decided.
   */
  alsoAsk?: (
    request: ApprovalRequest,
    settle: (outcome: ApprovalOutcome) => Promise<Settled>,
    signal: AbortSignal,
  ) => Promise<Settled>;
  /** Who answers through `alsoAsk` (default {@linkcode cliDecider}). */
  localDecider?: string;
}

/** The approver of one session: {@linkcode queueApprover}. */
export interface QueueApprover {
  /** The proxy's `approve` callback. */
  approve(request: ApprovalRequest): Promise<boolean>;
  /** Deny what still waits (recorded as `timeout`) and stop waiting: the session is ending. */
  close(): void;
}

/**
 * The approver of session `sessionId` through the queue: each question becomes a pending row and
 * an `approval` event, and waits (reading the database every 200 ms while anything waits) for a
 * decision or its deadline.
 *
 * @example
 * ```ts ignore
 * import { queueApprover } from "./approvals.ts";
 * const approver = queueApprover(ctx, session.id, { projectDir: "/src/app" });
 * // startSandbox(ctx, spec, { approve: approver.approve }); … approver.close();
 * ```
 */
export function queueApprover(
  ctx: ApiContext,
  sessionId: string,
  options: ApprovalQueueOptions,
): QueueApprover {
  const timeoutMs = options.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
  const pollMs = options.pollMs ?? POLL_MS;
  const localDecider = options.localDecider ?? cliDecider();
  const waiting = new Map<number, { deadline: number; done(outcome: ApprovalOutcome): void }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  const poll = () => {
    timer = undefined;
    const now = Date.now();
    for (const [id, wait] of waiting) {
      if (now >= wait.deadline) recordDecision(ctx, id, "timeout", TIMEOUT_DECIDER);
      const row = getApproval(ctx.db, id);
      const outcome = outcomeOf(row);
      if (outcome) wait.done(outcome);
      else if (!row) wait.done("deny");
    }
    schedule();
  };
  const schedule = () => {
    if (timer === undefined && waiting.size > 0 && !closed) timer = setTimeout(poll, pollMs);
  };
  const ask = async (
    request: ApprovalRequest,
    settle: (outcome: ApprovalOutcome) => Promise<Settled>,
  ): Promise<Settled> => {
    if (closed) return await settle("timeout");
    const deadline = Date.now() + timeoutMs;
    const id = insertApproval(ctx.db, { session: sessionId, ...request, deadline });
    const decided = new Promise<ApprovalOutcome>((resolve) => {
      waiting.set(id, {
        deadline,
        done: (outcome) => {
          waiting.delete(id);
          resolve(outcome);
        },
      });
      const row = getApproval(ctx.db, id);
      if (row) {
        ctx.onEvent({
          type: "approval",
          approval: approvalOf(ctx, row),
          message: `${request.host}:${request.port} waits for approval ${id} ` +
            `(\`agentbox approve ${id} once|session|always|deny\`; ` +
            `no answer in ${Math.round(timeoutMs / 1000)} s denies)`,
        });
      }
      schedule();
    });
    let settled: Settled;
    if (options.alsoAsk) {
      const elsewhere = new AbortController();
      decided.then(() => elsewhere.abort());
      settled = await options.alsoAsk(request, async (local) => {
        // The row holds the first answer: this one, unless another came first.
        recordDecision(ctx, id, local, local === "timeout" ? TIMEOUT_DECIDER : localDecider);
        const row = getApproval(ctx.db, id);
        waiting.get(id)?.done(outcomeOf(row) ?? "deny");
        return await settle(await decided);
      }, elsewhere.signal);
    } else {
      settled = await settle(await decided);
    }
    if (settled.saveError) {
      noteApproval(
        ctx.db,
        id,
        `could not save to the project's allowlist (${settled.saveError.message}); ` +
          "allowed for this session",
      );
    }
    return settled;
  };
  const approve = approvalGate(ask, {
    allowAlways: (host) => allowHostForProject(options.projectDir, host),
  });
  return {
    approve,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (const [id, wait] of waiting) {
        recordDecision(ctx, id, "timeout", TIMEOUT_DECIDER);
        wait.done(outcomeOf(getApproval(ctx.db, id)) ?? "deny");
      }
    },
  };
}

/**
 * Write the decision of approval `id`, unless it has one: the one place an approval decision is
 * recorded (an audit event belongs here). Returns false when it was decided already.
 *
 * @example
 * ```ts ignore
 * import { recordDecision } from "./approvals.ts";
 * recordDecision(ctx, 3, "once", "cli:alice");
 * ```
 */
export function recordDecision(
  ctx: ApiContext,
  id: number,
  outcome: ApprovalOutcome,
  by: string,
): boolean {
  const decided = decideApprovalRow(ctx.db, id, { decision: outcome, by });
  const row = decided ? getApproval(ctx.db, id) : undefined;
  if (row) {
    emitAudit(ctx, {
      type: "approval.decided",
      session: { id: row.session },
      host: row.host,
      port: row.port,
      rule: row.rule,
      approval: String(id),
      decision: outcome,
      by,
    });
  }
  return decided;
}

/** Which approvals {@linkcode listApprovals} returns. */
export interface ApprovalFilter {
  /** A session's name, id or unique id prefix (any session, detached or not, by full id). */
  session?: string;
  /** Only those still waiting. */
  pending?: boolean;
  /** At most this many, newest first (default 100, at most 1000). */
  limit?: number;
}

/**
 * Approvals, newest first. Throws `session_unknown` for a `session` that names none.
 *
 * @example
 * ```ts ignore
 * import { listApprovals } from "./approvals.ts";
 * for (const a of listApprovals(ctx, { pending: true })) console.log(a.id, a.host);
 * ```
 */
export function listApprovals(ctx: ApiContext, filter: ApprovalFilter = {}): Approval[] {
  const session = filter.session === undefined ? undefined : resolveSessionRef(ctx, filter.session);
  const limit = Math.min(Math.max(1, filter.limit ?? 100), 1000);
  const now = Date.now();
  return queryApprovals(ctx.db, { session, limit })
    .map((row) => approvalOf(ctx, row, now))
    .filter((approval) => !filter.pending || approval.state === "pending");
}

/**
 * Answer approval `id` with `decision` on behalf of `by` (a server token's name, `cli:<user>`);
 * returns it as decided. Throws `approval_unknown`, `approval_decided`, `approval_expired`,
 * `approval_invalid`.
 *
 * @example
 * ```ts ignore
 * import { answerApproval, cliDecider } from "./approvals.ts";
 * const approval = answerApproval(ctx, 3, "session", cliDecider());
 * ```
 */
export function answerApproval(
  ctx: ApiContext,
  id: number,
  decision: string,
  by: string,
): Approval {
  if (!isApprovalDecision(decision)) {
    throw new UsageError(
      `${JSON.stringify(decision.slice(0, 40))} is not a decision: answer once, session, ` +
        "always or deny",
      { code: "approval_invalid" },
    );
  }
  checkDecider(by);
  const row = getApproval(ctx.db, id);
  if (!row) {
    throw new AgentboxError(`No approval ${id}: see \`agentbox approvals\``, {
      kind: "not_found",
      code: "approval_unknown",
    });
  }
  const decided = () =>
    new AgentboxError(
      `Approval ${id} was answered already (${row.decision ?? "?"} by ${row.decidedBy ?? "?"})`,
      { kind: "conflict", code: "approval_decided" },
    );
  if (row.decision !== null) throw decided();
  if (Date.now() >= row.deadline) {
    // Its owner records the timeout too; whoever writes first wins, the outcome is the same.
    recordDecision(ctx, id, "timeout", TIMEOUT_DECIDER);
    throw new AgentboxError(
      `Approval ${id} expired: nobody answered in time, so ${row.host} was denied`,
      { kind: "state", code: "approval_expired" },
    );
  }
  if (!recordDecision(ctx, id, decision, by)) {
    Object.assign(row, getApproval(ctx.db, id));
    throw decided();
  }
  return approvalOf(ctx, getApproval(ctx.db, id)!);
}

/**
 * Who decides from this CLI: `cli:<unix user>`.
 *
 * @example
 * ```ts
 * import { cliDecider } from "./approvals.ts";
 * console.assert(cliDecider().startsWith("cli:"));
 * ```
 */
export function cliDecider(): string {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid ${Deno.uid() ?? "?"}`;
  }
  return `cli:${name}`;
}

/**
 * Throw `approval_invalid` for a `decidedBy` that cannot be recorded: empty, over 128
 * characters, or with control characters (it is shown on terminals).
 *
 * @example
 * ```ts
 * import { checkDecider } from "./approvals.ts";
 * checkDecider("cli:alice");
 * ```
 */
export function checkDecider(by: string): void {
  // deno-lint-ignore no-control-regex
  if (by.length === 0 || by.length > 128 || /[\u0000-\u001f\u007f-\u009f]/.test(by)) {
    throw new UsageError(
      "Who decides must be 1 to 128 printable characters (a token name, cli:USER)",
      { code: "approval_invalid" },
    );
  }
}

function approvalOf(ctx: ApiContext, row: ApprovalRow, now = Date.now()): Approval {
  const decision = outcomeOf(row) ?? null;
  const state: ApprovalState = decision !== null
    ? "decided"
    : now >= row.deadline
    ? "expired"
    : "pending";
  const name = findLifecycle(ctx.db, row.session)?.name ?? null;
  return { ...row, sessionName: name, state, decision };
}

function outcomeOf(row: ApprovalRow | undefined): ApprovalOutcome | undefined {
  const decision = row?.decision;
  if (!decision) return undefined;
  return isApprovalDecision(decision) || decision === "timeout" ? decision : "deny";
}

/**
 * Allow `host` for the project from now on (an approval answered "always"): it is added to the
 * project's `.agentbox.toml` allowlist.
 *
 * @example
 * ```ts ignore
 * import { allowHostForProject } from "./approvals.ts";
 * await allowHostForProject("/home/me/proj", "registry.npmjs.org");
 * ```
 */
export async function allowHostForProject(projectDir: string, host: string): Promise<void> {
  await addToProjectAllowlist((await findProjectFile(projectDir)).dir, [host]);
}
