/**
 * What sandboxes did on the network, as data: the request log (optionally followed as it grows)
 * and usage totals per host and AI tokens per model, host or session. Read from the database; the
 * edges format it.
 *
 * @module
 */

import { aiUsage, type AiUsageGrouping, type AiUsageRow } from "../store/ai_calls.ts";
import {
  type HostUsage,
  listRequests,
  type RequestRecord,
  usageByHost,
} from "../store/requests.ts";
import { findSession } from "../store/sessions.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { printable } from "../terminal_text.ts";
import type { ApiContext } from "./context.ts";
import { AgentboxError } from "./errors.ts";

export type { AiUsageGrouping, AiUsageRow, HostUsage, RequestRecord };

/** The AI usage groupings, for validating a caller's choice. */
export const AI_USAGE_GROUPINGS: readonly AiUsageGrouping[] = ["model", "host", "session"];

/**
 * The id of the session `ref` names: a long-lived session's name, an id, or a unique prefix of
 * one. Throws {@linkcode UsageError} (`session_unknown`) when none or several match.
 *
 * @example
 * ```ts
 * import { resolveSessionRef } from "./network_records.ts";
 * import { openContext } from "./context.ts";
 * import { openDatabase } from "../store/database.ts";
 * using ctx = openContext({ db: openDatabase(":memory:") });
 * try {
 *   resolveSessionRef(ctx, "nosuch");
 * } catch (error) {
 *   console.assert((error as { code: string }).code === "session_unknown");
 * }
 * ```
 */
export function resolveSessionRef(ctx: Pick<ApiContext, "db">, ref: string): string {
  const session = findLifecycle(ctx.db, ref) ?? findSession(ctx.db, ref);
  if (!session) {
    throw new AgentboxError(
      `No single session matches "${printable(ref)}": see \`agentbox ps -a\``,
      {
        kind: "not_found",
        code: "session_unknown",
      },
    );
  }
  return session.id;
}

/** Options of {@linkcode requestRecords}. */
export interface RequestRecordsOptions {
  /** Only this session's requests (an id: see {@linkcode resolveSessionRef}). */
  session?: string;
  /** Keep yielding new requests as they are recorded, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** How often a follow looks for new rows (default 500 ms). */
  pollMs?: number;
}

/**
 * The request log, oldest first; with `follow`, new requests as they are recorded.
 *
 * @example
 * ```ts
 * import { requestRecords } from "./network_records.ts";
 * import { openContext } from "./context.ts";
 * import { openDatabase } from "../store/database.ts";
 * using ctx = openContext({ db: openDatabase(":memory:") });
 * for await (const record of requestRecords(ctx)) console.log(record.host);
 * ```
 */
export async function* requestRecords(
  ctx: Pick<ApiContext, "db">,
  options: RequestRecordsOptions = {},
): AsyncGenerator<RequestRecord> {
  let afterId = 0;
  for (;;) {
    for (const row of listRequests(ctx.db, { session: options.session, afterId })) {
      yield row;
      afterId = row.id;
    }
    if (!options.follow || options.signal?.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
    if (options.signal?.aborted) return;
  }
}

/** Usage totals: per destination host, and AI calls grouped as asked. */
export interface UsageReport {
  hosts: HostUsage[];
  ai: { by: AiUsageGrouping; rows: AiUsageRow[] };
}

/**
 * Usage per host and AI tokens, for one session or all.
 *
 * @example
 * ```ts
 * import { usageReport } from "./network_records.ts";
 * import { openContext } from "./context.ts";
 * import { openDatabase } from "../store/database.ts";
 * using ctx = openContext({ db: openDatabase(":memory:") });
 * console.assert(usageReport(ctx, { by: "model" }).hosts.length === 0);
 * ```
 */
export function usageReport(
  ctx: Pick<ApiContext, "db">,
  options: { session?: string; by: AiUsageGrouping },
): UsageReport {
  return {
    hosts: usageByHost(ctx.db, { session: options.session }),
    ai: { by: options.by, rows: aiUsage(ctx.db, { by: options.by, session: options.session }) },
  };
}
