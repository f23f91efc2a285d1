/**
 * Request rows. The proxy writes a row when it has decided (before any byte goes upstream) and
 * completes it when the exchange ends, so a crash loses at most the counters of the requests in
 * flight — never the fact that they happened. Metadata only: never headers or bodies.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

const MAX_PATH = 2048;
const MAX_TEXT = 512;

/** What is known when the proxy has decided. */
export interface RequestStart {
  session: string;
  method: string;
  scheme: "http" | "https";
  host: string;
  port: number;
  /** Path and query, for plain HTTP (and decrypted HTTPS); absent for opaque tunnels. */
  path?: string;
  decision: "allow" | "deny";
  rule: string;
}

/** What is known when the exchange ended. */
export interface RequestEnd {
  status?: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  error?: string;
}

/** One stored request. Times in milliseconds since the epoch. */
export interface RequestRecord extends Omit<RequestStart, "path">, Partial<RequestEnd> {
  id: number;
  startedAt: number;
  path: string | null;
}

/**
 * Insert the row for a decided request and return its id.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { createSession } from "./sessions.ts";
 * import { beginRequest } from "./requests.ts";
 * const db = openDatabase(":memory:");
 * const session = createSession(db).id;
 * const id = beginRequest(db, {
 *   session, method: "CONNECT", scheme: "https", host: "example.com", port: 443,
 *   decision: "allow", rule: "default deny",
 * });
 * ```
 */
export function beginRequest(db: DatabaseSync, start: RequestStart): number {
  const result = db.prepare(
    `INSERT INTO requests (session_id, started_at, method, scheme, host, port, path, decision, rule)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    start.session,
    Date.now(),
    start.method.slice(0, 32),
    start.scheme,
    start.host,
    start.port,
    start.path?.slice(0, MAX_PATH) ?? null,
    start.decision,
    start.rule.slice(0, MAX_TEXT),
  );
  return Number(result.lastInsertRowid);
}

/**
 * Complete a request row with its outcome.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { finishRequest } from "./requests.ts";
 * finishRequest(openDatabase(":memory:"), 1, { status: 200, bytesUp: 10, bytesDown: 20, durationMs: 3 });
 * ```
 */
export function finishRequest(db: DatabaseSync, id: number, end: RequestEnd): void {
  db.prepare(
    `UPDATE requests SET status = ?, bytes_up = ?, bytes_down = ?, duration_ms = ?, error = ?
     WHERE id = ?`,
  ).run(
    end.status ?? null,
    end.bytesUp,
    end.bytesDown,
    Math.round(end.durationMs),
    end.error?.slice(0, MAX_TEXT) ?? null,
    id,
  );
}

/** Which rows {@linkcode listRequests} returns. */
export interface RequestFilter {
  session?: string;
  /** Only rows with a larger id (for `--follow`). */
  afterId?: number;
  limit?: number;
}

/**
 * Stored requests in id order.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { listRequests } from "./requests.ts";
 * console.assert(listRequests(openDatabase(":memory:")).length === 0);
 * ```
 */
export function listRequests(db: DatabaseSync, filter: RequestFilter = {}): RequestRecord[] {
  const rows = db.prepare(
    `SELECT id, session_id AS session, started_at AS startedAt, method, scheme, host, port, path,
            decision, rule, status, bytes_up AS bytesUp, bytes_down AS bytesDown,
            duration_ms AS durationMs, error
     FROM requests WHERE (?1 IS NULL OR session_id = ?1) AND id > ?2 ORDER BY id LIMIT ?3`,
  ).all(filter.session ?? null, filter.afterId ?? 0, filter.limit ?? -1);
  return rows.map((r) => ({ ...r })) as unknown as RequestRecord[];
}

/** Traffic to one host. */
export interface HostUsage {
  host: string;
  requests: number;
  denied: number;
  bytesUp: number;
  bytesDown: number;
}

/**
 * Per-host totals, busiest first.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * import { usageByHost } from "./requests.ts";
 * console.assert(usageByHost(openDatabase(":memory:")).length === 0);
 * ```
 */
export function usageByHost(db: DatabaseSync, filter: { session?: string } = {}): HostUsage[] {
  const rows = db.prepare(
    `SELECT host, COUNT(*) AS requests, SUM(decision = 'deny') AS denied,
            SUM(bytes_up) AS bytesUp, SUM(bytes_down) AS bytesDown
     FROM requests WHERE (?1 IS NULL OR session_id = ?1)
     GROUP BY host ORDER BY bytesUp + bytesDown DESC, requests DESC, host`,
  ).all(filter.session ?? null);
  return rows.map((r) => ({ ...r })) as unknown as HostUsage[];
}
