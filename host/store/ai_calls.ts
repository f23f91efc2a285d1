/**
 * AI call rows: one per recognised AI API call that went upstream, written by the proxy when the
 * response ended. Provider, host, model name, token counts, latency and status — never prompt or
 * response content; there is no column that could hold it.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

const MAX_NAME = 128;

/** One AI call as the proxy reports it. */
export interface AiCallStart {
  session: string;
  /** The `requests` row of the HTTP exchange. */
  requestId?: number;
  /** Milliseconds since the epoch. */
  startedAt: number;
  provider: string;
  host: string;
  model?: string;
  streamed: boolean;
  status?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
  latencyMs: number;
  /** Why usage is missing or incomplete (a stable code), absent when it was read in full. */
  usageError?: string;
}

/** One stored AI call; absent values are `null`. */
export interface AiCallRecord {
  id: number;
  session: string;
  requestId: number | null;
  startedAt: number;
  provider: string;
  host: string;
  model: string | null;
  streamed: boolean;
  status: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cacheCreationTokens: number | null;
  latencyMs: number | null;
  usageError: string | null;
}

/**
 * Insert an AI call and return its id.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { insertAiCall } from "./ai_calls.ts";
 * const db = openDatabase(":memory:");
 * insertAiCall(db, {
 *   session: createSession(db).id, startedAt: Date.now(), provider: "anthropic",
 *   host: "api.anthropic.com", model: "claude-sonnet-4-5", streamed: true, status: 200,
 *   inputTokens: 25, outputTokens: 15, latencyMs: 840,
 * });
 * ```
 */
export function insertAiCall(db: DatabaseSync, call: AiCallStart): number {
  const result = db.prepare(
    `INSERT INTO ai_calls (session_id, request_id, started_at, provider, host, model, streamed,
       status, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, latency_ms,
       usage_error)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    call.session,
    call.requestId ?? null,
    Math.round(call.startedAt),
    call.provider.slice(0, MAX_NAME),
    call.host,
    call.model?.slice(0, MAX_NAME) ?? null,
    call.streamed ? 1 : 0,
    call.status ?? null,
    count(call.inputTokens),
    count(call.outputTokens),
    count(call.cacheReadTokens),
    count(call.cacheCreationTokens),
    Math.max(0, Math.round(call.latencyMs)),
    call.usageError?.slice(0, 32) ?? null,
  );
  return Number(result.lastInsertRowid);
}

function count(n: number | undefined): number | null {
  return n === undefined || !Number.isSafeInteger(n) || n < 0 ? null : n;
}

/** Which rows {@linkcode listAiCalls} returns. */
export interface AiCallFilter {
  session?: string;
  /** Only rows with a larger id. */
  afterId?: number;
  limit?: number;
}

/**
 * Stored AI calls in id order.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { listAiCalls } from "./ai_calls.ts";
 * console.assert(listAiCalls(openDatabase(":memory:")).length === 0);
 * ```
 */
export function listAiCalls(db: DatabaseSync, filter: AiCallFilter = {}): AiCallRecord[] {
  const rows = db.prepare(
    `SELECT id, session_id AS session, request_id AS requestId, started_at AS startedAt,
            provider, host, model, streamed, status, input_tokens AS inputTokens,
            output_tokens AS outputTokens, cache_read_tokens AS cacheReadTokens,
            cache_creation_tokens AS cacheCreationTokens, latency_ms AS latencyMs,
            usage_error AS usageError
     FROM ai_calls WHERE (?1 IS NULL OR session_id = ?1) AND id > ?2 ORDER BY id LIMIT ?3`,
  ).all(filter.session ?? null, filter.afterId ?? 0, filter.limit ?? -1);
  return rows.map((r) => ({ ...r, streamed: r.streamed === 1 })) as unknown as AiCallRecord[];
}

/** How {@linkcode aiUsage} groups calls. */
export type AiUsageGrouping = "model" | "host" | "session";

/** AI calls and tokens of one group. */
export interface AiUsageRow {
  /** The model, host or session id; `null` for calls whose model is unknown. */
  key: string | null;
  calls: number;
  /** Calls answered with a status of 400 or more (or none). */
  failed: number;
  /** Calls whose response carried no readable usage. */
  unmetered: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** Mean time from request to the end of the response. */
  avgLatencyMs: number;
}

const GROUP_COLUMN: Record<AiUsageGrouping, string> = {
  model: "model",
  host: "host",
  session: "session_id",
};

/**
 * Token totals per model, host or session, most tokens first.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { aiUsage } from "./ai_calls.ts";
 * console.assert(aiUsage(openDatabase(":memory:"), { by: "model" }).length === 0);
 * ```
 */
export function aiUsage(
  db: DatabaseSync,
  options: { by: AiUsageGrouping; session?: string },
): AiUsageRow[] {
  const column = GROUP_COLUMN[options.by];
  const rows = db.prepare(
    `SELECT ${column} AS key, COUNT(*) AS calls,
            SUM(status IS NULL OR status >= 400) AS failed,
            SUM(input_tokens IS NULL AND output_tokens IS NULL) AS unmetered,
            TOTAL(input_tokens) AS inputTokens, TOTAL(output_tokens) AS outputTokens,
            TOTAL(cache_read_tokens) AS cacheReadTokens,
            TOTAL(cache_creation_tokens) AS cacheCreationTokens,
            ROUND(AVG(latency_ms)) AS avgLatencyMs
     FROM ai_calls WHERE (?1 IS NULL OR session_id = ?1)
     GROUP BY ${column} ORDER BY inputTokens + outputTokens DESC, calls DESC, key`,
  ).all(options.session ?? null);
  return rows.map((r) => ({ ...r })) as unknown as AiUsageRow[];
}
