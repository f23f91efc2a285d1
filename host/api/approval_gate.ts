/**
 * What an answer to a graylist question means, once for every way of answering (a terminal
 * prompt, the approval queue that `agentbox approve` and the server answer): `once` lets this
 * connection through, `session` lets every later one to the same host through without asking
 * again (and settles the questions queued behind it), `always` also writes the host into the
 * project's allowlist (when that fails, it counts as `session`), `deny` refuses this connection,
 * and no answer before the deadline (`timeout`) refuses it too.
 *
 * Questions about one host are asked one at a time, so a burst of connections to a host is one
 * question; questions about different hosts may be open together (an asker that can show only
 * one at a time, like a terminal, queues them itself).
 *
 * @module
 */

import type { ApprovalRequest } from "../proxy/proxy_context.ts";

export type { ApprovalRequest };

/** The answers a person can give, in the order front ends list them. */
export const APPROVAL_DECISIONS = ["once", "session", "always", "deny"] as const;

/** An answer a person gave. */
export type ApprovalDecision = typeof APPROVAL_DECISIONS[number];

/** How a question ended: an answer, or nobody answered before its deadline. */
export type ApprovalOutcome = ApprovalDecision | "timeout";

/** The default time a question waits for an answer. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 30_000;

/** What an outcome did. */
export interface Settled {
  /** The connection goes through. */
  allowed: boolean;
  /** The outcome in effect: `session` for an `always` whose allowlist write failed. */
  outcome: ApprovalOutcome;
  /** Why an `always` could not be saved. */
  saveError?: Error;
}

/**
 * Asks a person about `request` and hands the outcome to `settle` (which applies it: the
 * allowlist write of `always`, the session's memory), returning what `settle` returned. An asker
 * that shows the outcome (a terminal) does so after `settle`, so a failed save is shown too.
 */
export type Asker = (
  request: ApprovalRequest,
  settle: (outcome: ApprovalOutcome) => Promise<Settled>,
) => Promise<Settled>;

/** Options of {@linkcode approvalGate}. */
export interface ApprovalGateOptions {
  /** Persist an `always` answer (the project's allowlist). */
  allowAlways(host: string): Promise<void>;
}

/**
 * Whether `word` names a decision.
 *
 * @example
 * ```ts
 * import { isApprovalDecision } from "./approval_gate.ts";
 * console.assert(isApprovalDecision("once") && !isApprovalDecision("timeout"));
 * ```
 */
export function isApprovalDecision(word: string): word is ApprovalDecision {
  return (APPROVAL_DECISIONS as readonly string[]).includes(word);
}

/**
 * An `approve` callback for the proxy (`ProxyContext.approve`): the decision semantics above
 * around `ask`.
 *
 * @example
 * ```ts
 * import { approvalGate } from "./approval_gate.ts";
 * const approve = approvalGate((_request, settle) => settle("session"), {
 *   allowAlways: () => Promise.resolve(),
 * });
 * console.assert(await approve({ host: "a.test", port: 443, rule: "gray" }));
 * ```
 */
export function approvalGate(
  ask: Asker,
  options: ApprovalGateOptions,
): (request: ApprovalRequest) => Promise<boolean> {
  const forSession = new Set<string>();
  const queues = new Map<string, Promise<unknown>>();
  const settle = async (host: string, outcome: ApprovalOutcome): Promise<Settled> => {
    let saveError: Error | undefined;
    if (outcome === "always") {
      await options.allowAlways(host).catch((error) => {
        saveError = error instanceof Error ? error : new Error(String(error));
      });
    }
    const effective = saveError ? "session" : outcome;
    if (effective === "session" || effective === "always") forSession.add(host);
    const allowed = effective !== "deny" && effective !== "timeout";
    return saveError ? { allowed, outcome: effective, saveError } : { allowed, outcome: effective };
  };
  const decide = async (request: ApprovalRequest): Promise<boolean> => {
    if (forSession.has(request.host)) return true;
    let settled: Settled | undefined;
    try {
      const result = await ask(request, async (outcome) => {
        settled ??= await settle(request.host, outcome);
        return settled;
      });
      return (settled ?? result).allowed;
    } catch {
      // Fail closed: an asker that broke (a closed terminal, a database gone) denies.
      return settled?.allowed ?? false;
    }
  };
  return (request) => {
    const turn = (queues.get(request.host) ?? Promise.resolve()).then(() => decide(request));
    const tail = turn.catch(() => {});
    queues.set(request.host, tail);
    tail.then(() => {
      if (queues.get(request.host) === tail) queues.delete(request.host);
    });
    return turn;
  };
}
