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

/**
 * What a row stands for. `request`: one request — plain HTTP, a decrypted HTTPS request, a
 * refusal, or an opaque tunnel (whose requests the proxy cannot see). `tunnel`: the transport of
 * inspected requests (an inspected CONNECT or transparent TLS connection); its requests have rows
 * of their own, so it is never counted as a request and its bytes (TLS records) are kept apart.
 */
export type RequestKind = "request" | "tunnel";

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
  /** Default `request`. */
  kind?: RequestKind;
}

/** What is known when the exchange ended. */
export interface RequestEnd {
  status?: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  error?: string;
  /** The credential the proxy injected into the request: its header names, never the value. */
  credential?: string;
}

/** One stored request. Times in milliseconds since the epoch. */
export interface RequestRecord
  extends Omit<RequestStart, "path" | "kind">, Partial<Omit<RequestEnd, "credential">> {
  id: number;
  kind: RequestKind;
  startedAt: number;
  path: string | null;
  /** See {@linkcode RequestEnd.credential}; null when none was injected. */
  credential: string | null;
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
    `INSERT INTO requests (session_id, started_at, method, scheme, host, port, path, decision, rule,
                           kind)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    start.kind ?? "request",
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
    `UPDATE requests SET status = ?, bytes_up = ?, bytes_down = ?, duration_ms = ?, error = ?,
                         credential = ?
     WHERE id = ?`,
  ).run(
    end.status ?? null,
    end.bytesUp,
    end.bytesDown,
    Math.round(end.durationMs),
    end.error?.slice(0, MAX_TEXT) ?? null,
    end.credential?.slice(0, MAX_TEXT) ?? null,
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
    `SELECT id, kind, session_id AS session, started_at AS startedAt, method, scheme, host, port,
            path, decision, rule, status, bytes_up AS bytesUp, bytes_down AS bytesDown,
            duration_ms AS durationMs, error, credential
     FROM requests WHERE (?1 IS NULL OR session_id = ?1) AND id > ?2 ORDER BY id LIMIT ?3`,
  ).all(filter.session ?? null, filter.afterId ?? 0, filter.limit ?? -1);
  return rows.map((r) => ({ ...r })) as unknown as RequestRecord[];
}

/**
 * Traffic to one host. `requests`, `denied` and the bytes count requests (see
 * {@linkcode RequestKind}): for a decrypted request its body bytes, for an opaque tunnel its
 * encrypted bytes. The tunnels that carried decrypted requests are transport, counted apart.
 */
export interface HostUsage {
  host: string;
  requests: number;
  denied: number;
  bytesUp: number;
  bytesDown: number;
  /** Inspected tunnels to the host, and the TLS bytes they carried. */
  tunnels: number;
  tunnelBytesUp: number;
  tunnelBytesDown: number;
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
    `SELECT host, SUM(kind = 'request') AS requests,
            SUM(kind = 'request' AND decision = 'deny') AS denied,
            SUM(IIF(kind = 'request', bytes_up, 0)) AS bytesUp,
            SUM(IIF(kind = 'request', bytes_down, 0)) AS bytesDown,
            SUM(kind = 'tunnel') AS tunnels,
            SUM(IIF(kind = 'tunnel', bytes_up, 0)) AS tunnelBytesUp,
            SUM(IIF(kind = 'tunnel', bytes_down, 0)) AS tunnelBytesDown
     FROM requests WHERE (?1 IS NULL OR session_id = ?1)
     GROUP BY host
     ORDER BY bytesUp + bytesDown DESC, requests DESC, tunnelBytesUp + tunnelBytesDown DESC, host`,
  ).all(filter.session ?? null);
  return rows.map((r) => ({ ...r })) as unknown as HostUsage[];
}
