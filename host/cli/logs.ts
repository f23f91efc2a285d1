/**
 * `agentbox logs [SESSION] [--follow] [--json]`: the requests the egress proxy saw, from the
 * local database. Host names and paths come from the guest, so text output is stripped of
 * terminal control characters.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../store/database.ts";
import { listRequests, type RequestRecord } from "../store/requests.ts";
import { findSession } from "../store/sessions.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import { escapeControls, printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox logs`. */
export const LOGS_HELP = `Show the network requests sandboxes made, oldest first.

Usage: agentbox logs [SESSION] [--follow] [--json]

SESSION is a session id or a unique prefix of one; without it, every session is shown.

Options:
  -f, --follow  keep printing new requests as they are recorded (Ctrl-C stops)
  --json        one JSON object per line
  -h, --help    show this help`;

const POLL_MS = 500;

/** Run `agentbox logs ARGS`. */
export async function logsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("logs", args, {
    follow: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(LOGS_HELP);
    return 0;
  }
  const db = openDatabase();
  try {
    return await printLogs(db, positionals, { follow: !!values.follow, json: !!values.json });
  } finally {
    db.close();
  }
}

/**
 * The body of `agentbox logs` against an open database.
 *
 * @example
 * ```ts
 * import { printLogs } from "./logs.ts";
 * import { openDatabase } from "../store/database.ts";
 * await printLogs(openDatabase(":memory:"), [], { follow: false, json: true });
 * ```
 */
export async function printLogs(
  db: DatabaseSync,
  positionals: string[],
  options: { follow: boolean; json: boolean },
): Promise<number> {
  const session = sessionArgument(db, positionals, "logs");
  const print = (r: RequestRecord) =>
    console.log(options.json ? JSON.stringify(r) : formatRequest(r));
  let afterId = 0;
  for (;;) {
    for (const row of listRequests(db, { session, afterId })) {
      print(row);
      afterId = row.id;
    }
    if (!options.follow) return 0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * The session id named by the optional positional argument, or undefined for all sessions.
 * Throws {@linkcode UsageError} for an unknown or ambiguous id, or extra arguments.
 *
 * @example
 * ```ts
 * import { sessionArgument } from "./logs.ts";
 * import { openDatabase } from "../store/database.ts";
 * console.assert(sessionArgument(openDatabase(":memory:"), [], "logs") === undefined);
 * ```
 */
export function sessionArgument(
  db: DatabaseSync,
  positionals: string[],
  command: string,
): string | undefined {
  if (positionals.length > 1) {
    throw new UsageError(`Too many arguments: see \`agentbox ${command} --help\``);
  }
  if (positionals.length === 0) return undefined;
  // A long-lived session's name first, then an id or a prefix of one.
  const session = findLifecycle(db, positionals[0]) ?? findSession(db, positionals[0]);
  if (!session) {
    throw new UsageError(`No single session matches "${printable(positionals[0])}"`);
  }
  return session.id;
}

/**
 * One request as a line: time, session prefix, decision, status, method, URL, bytes, rule.
 *
 * @example
 * ```ts
 * import { formatRequest } from "./logs.ts";
 * console.log(formatRequest({
 *   id: 1, session: "0f3c2a9e", startedAt: 0, method: "CONNECT", scheme: "https",
 *   host: "example.com", port: 443, path: null, decision: "allow", rule: "allow", status: 200,
 *   bytesUp: 10, bytesDown: 20, durationMs: 5,
 * }));
 * ```
 */
export function formatRequest(r: RequestRecord): string {
  const time = new Date(r.startedAt).toISOString().replace("T", " ").slice(0, 19);
  const target = `${r.scheme}://${r.host}:${r.port}${r.path ?? ""}`;
  const status = r.status ?? "-";
  const bytes = `up ${r.bytesUp ?? 0} down ${r.bytesDown ?? 0}`;
  return escapeControls(
    `${time} ${r.session.slice(0, 8)} ${
      r.decision.padEnd(5)
    } ${status} ${r.method} ${target} ${bytes} (${r.rule})`,
  );
}
