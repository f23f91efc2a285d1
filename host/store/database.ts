/**
 * Opening the agentbox database: `$XDG_STATE_HOME/agentbox/agentbox.db`, WAL, busy timeout,
 * schema migrated. Several processes (one proxy per session, `agentbox requests`) share it.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import { stateDir } from "../paths.ts";
import { migrate } from "./migrations.ts";

/** The database cannot be opened or migrated. */
export class StoreError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code: "store_unavailable" });
    this.name = "StoreError";
  }
}

/** Options of {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /** How long a writer waits for another one, in milliseconds (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * Default database path: `$XDG_STATE_HOME/agentbox/agentbox.db`, falling back to
 * `~/.local/state/agentbox/agentbox.db`.
 *
 * @example
 * ```ts
 * import { defaultDatabasePath } from "./database.ts";
 * console.log(defaultDatabasePath());
 * ```
 */
export function defaultDatabasePath(): string {
  return `${stateDir()}/agentbox.db`;
}

/**
 * Open (creating if needed) and migrate the database. WAL journal so readers never block the
 * writer; `synchronous=NORMAL`, which in WAL mode loses no committed transaction when the process
 * crashes or is killed (an operating-system crash may lose the last few). Throws
 * {@linkcode StoreError}.
 *
 * @example
 * ```ts
 * import { openDatabase } from "./database.ts";
 * const db = openDatabase("/tmp/agentbox-example.db");
 * db.close();
 * ```
 */
export function openDatabase(
  path = defaultDatabasePath(),
  options: OpenDatabaseOptions = {},
): DatabaseSync {
  try {
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db);
    return db;
  } catch (cause) {
    throw new StoreError(`Cannot open database ${path}`, { cause });
  }
}
