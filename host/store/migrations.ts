/**
 * The database schema, as an append-only list of migrations applied in order. `PRAGMA
 * user_version` records how many ran. Never edit a released migration; add a new one.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** Migration `i` brings the schema from version `i` to `i + 1`. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     tool TEXT,
     project TEXT
   );
   CREATE TABLE requests (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL REFERENCES sessions(id),
     started_at INTEGER NOT NULL,
     method TEXT NOT NULL,
     scheme TEXT NOT NULL,
     host TEXT NOT NULL,
     port INTEGER NOT NULL,
     path TEXT,
     decision TEXT NOT NULL,
     rule TEXT NOT NULL,
     status INTEGER,
     bytes_up INTEGER NOT NULL DEFAULT 0,
     bytes_down INTEGER NOT NULL DEFAULT 0,
     duration_ms INTEGER,
     error TEXT
   );
   CREATE INDEX requests_by_session ON requests(session_id, id);
   CREATE INDEX requests_by_host ON requests(host);`,
  // AI API calls read by the proxy: counts and names only, never prompt or response content.
  `CREATE TABLE ai_calls (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL REFERENCES sessions(id),
     request_id INTEGER REFERENCES requests(id),
     started_at INTEGER NOT NULL,
     provider TEXT NOT NULL,
     host TEXT NOT NULL,
     model TEXT,
     streamed INTEGER NOT NULL DEFAULT 0,
     status INTEGER,
     input_tokens INTEGER,
     output_tokens INTEGER,
     cache_read_tokens INTEGER,
     cache_creation_tokens INTEGER,
     latency_ms INTEGER,
     usage_error TEXT
   );
   CREATE INDEX ai_calls_by_session ON ai_calls(session_id, id);`,
  // Long-lived sessions (`agentbox run --detach`): their name, lifecycle status and owner process.
  // One-shot exec/run sessions leave status NULL. A removed session keeps its row (its requests
  // still refer to it) with status 'removed' and no name, so that the name can be used again.
  `ALTER TABLE sessions ADD COLUMN name TEXT;
   ALTER TABLE sessions ADD COLUMN status TEXT;
   ALTER TABLE sessions ADD COLUMN detail TEXT;
   ALTER TABLE sessions ADD COLUMN owner_pid INTEGER;
   ALTER TABLE sessions ADD COLUMN control_socket TEXT;
   CREATE UNIQUE INDEX sessions_by_name ON sessions(name) WHERE name IS NOT NULL;
   CREATE INDEX sessions_by_status ON sessions(status) WHERE status IS NOT NULL;`,
  // What a row stands for: a request ('request': a plain-HTTP or decrypted request, a refusal, an
  // opaque tunnel), or the transport of inspected requests ('tunnel': an inspected CONNECT or
  // transparent TLS connection, whose requests have rows of their own). Older inspected tunnels
  // are recognised by their rule.
  `ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'request';
   UPDATE requests SET kind = 'tunnel'
     WHERE method = 'CONNECT' AND decision = 'allow' AND rule LIKE '%; inspected';`,
  // Which credential the proxy injected into a request (its header name and host), never the value.
  `ALTER TABLE requests ADD COLUMN credential TEXT;`,
  // Human decisions asked across processes (host/api/approvals.ts, host/api/reviews.ts): a
  // graylisted destination waiting for once/session/always/deny (or `timeout` at its deadline),
  // and an apply held for review (accepted or rejected). Each decision says who made it and when.
  `CREATE TABLE approvals (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL REFERENCES sessions(id),
     host TEXT NOT NULL,
     port INTEGER NOT NULL,
     rule TEXT NOT NULL,
     asked_at INTEGER NOT NULL,
     deadline INTEGER NOT NULL,
     decision TEXT,
     decided_by TEXT,
     decided_at INTEGER,
     note TEXT
   );
   CREATE INDEX approvals_by_session ON approvals(session_id, id);
   CREATE INDEX approvals_pending ON approvals(id) WHERE decision IS NULL;
   CREATE TABLE reviews (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL REFERENCES sessions(id),
     project TEXT NOT NULL,
     changeset TEXT NOT NULL,
     request TEXT NOT NULL,
     paths TEXT NOT NULL,
     submitted_by TEXT NOT NULL,
     submitted_at INTEGER NOT NULL,
     decision TEXT,
     decided_by TEXT,
     decided_at INTEGER,
     result TEXT
   );
   CREATE INDEX reviews_by_session ON reviews(session_id, id);`,
];

/**
 * Apply every migration the database has not seen, each in its own immediate transaction, so
 * several processes opening an old database at once migrate it exactly once.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { migrate } from "./migrations.ts";
 * migrate(new DatabaseSync(":memory:"));
 * ```
 */
export function migrate(db: DatabaseSync): void {
  for (;;) {
    db.exec("BEGIN IMMEDIATE");
    try {
      const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      if (version > MIGRATIONS.length) {
        throw new Error(`Database schema version ${version} is newer than this agentbox`);
      }
      if (version === MIGRATIONS.length) {
        db.exec("COMMIT");
        return;
      }
      db.exec(MIGRATIONS[version]);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }
}
