/**
 * A seeded request log for the tests of `agentbox requests` and `agentbox usage`: two sessions, one
 * allowed request with its counters and one denied request to a host name that carries a
 * terminal escape sequence.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { beginRequest, finishRequest } from "../requests.ts";
import { createSession } from "../sessions.ts";

/** Ids of what {@linkcode seedRequests} wrote. */
export interface SeededRequests {
  session: string;
  /** The allowed request's id. */
  allowedId: number;
}

/**
 * Write the fixture into `db`.
 *
 * @example
 * ```ts
 * import { openDatabase } from "../database.ts";
 * import { seedRequests } from "./mod.ts";
 * const { session } = seedRequests(openDatabase(":memory:"));
 * console.assert(session === "abcdef12-session");
 * ```
 */
export function seedRequests(db: DatabaseSync): SeededRequests {
  const s = createSession(db, { id: "abcdef12-session" });
  createSession(db, { id: "other-session" });
  const start = { session: s.id, scheme: "https" as const, port: 443, method: "CONNECT" };
  const id = beginRequest(db, { ...start, host: "a.test", decision: "allow", rule: "allow" });
  finishRequest(db, id, { status: 200, bytesUp: 5, bytesDown: 50, durationMs: 1 });
  beginRequest(db, { ...start, host: "evil\x1b[2J.test", decision: "deny", rule: "default deny" });
  return { session: s.id, allowedId: id };
}
