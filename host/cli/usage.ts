/**
 * `agentbox usage [SESSION] [--json]`: per destination host, how many requests, how many were
 * denied and how many bytes went each way.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../store/database.ts";
import { type HostUsage, usageByHost } from "../store/requests.ts";
import { safeText, sessionArgument } from "./logs.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox usage`. */
export const USAGE_HELP = `Show network usage per host: requests, denials, bytes up and down.

Usage: agentbox usage [SESSION] [--json]

SESSION is a session id or a unique prefix of one; without it, every session is counted.

Options:
  --json      print the table as JSON
  -h, --help  show this help`;

/** Run `agentbox usage ARGS`. */
export function usageCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("usage", args, { json: { type: "boolean" } });
  if (values.help) {
    console.log(USAGE_HELP);
    return Promise.resolve(0);
  }
  const db = openDatabase();
  try {
    return Promise.resolve(printUsage(db, positionals, { json: !!values.json }));
  } finally {
    db.close();
  }
}

/**
 * The body of `agentbox usage` against an open database.
 *
 * @example
 * ```ts
 * import { printUsage } from "./usage.ts";
 * import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../store/database.ts";
 * printUsage(openDatabase(":memory:"), [], { json: false });
 * ```
 */
export function printUsage(
  db: DatabaseSync,
  positionals: string[],
  options: { json: boolean },
): number {
  const rows = usageByHost(db, { session: sessionArgument(db, positionals, "usage") });
  console.log(options.json ? JSON.stringify(rows, null, 2) : formatUsage(rows));
  return 0;
}

/**
 * The usage table as aligned text.
 *
 * @example
 * ```ts
 * import { formatUsage } from "./usage.ts";
 * console.log(formatUsage([{ host: "example.com", requests: 3, denied: 1, bytesUp: 10, bytesDown: 99 }]));
 * ```
 */
export function formatUsage(rows: HostUsage[]): string {
  if (rows.length === 0) return "No requests recorded.";
  const table = [["HOST", "REQUESTS", "DENIED", "BYTES UP", "BYTES DOWN"]];
  for (const r of rows) {
    table.push([safeText(r.host), r.requests, r.denied, r.bytesUp, r.bytesDown].map(String));
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")
  ).join("\n");
}
