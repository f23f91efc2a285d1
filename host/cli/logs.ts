/**
 * `agentbox logs [SESSION] [--follow] [--json]`: the requests the egress proxy saw, from the
 * local database. Host names and paths come from the guest, so text output is stripped of
 * terminal control characters.
 *
 * @module
 */

import { type ApiContext, openContext } from "../api/context.ts";
import { type RequestRecord, requestRecords, resolveSessionRef } from "../api/network_records.ts";
import { escapeControls } from "../terminal_text.ts";
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
  using ctx = openContext();
  return await printLogs(ctx, positionals, { follow: !!values.follow, json: !!values.json });
}

/**
 * The body of `agentbox logs` in a core context.
 *
 * @example
 * ```ts
 * import { printLogs } from "./logs.ts";
 * import { openContext } from "../api/context.ts";
 * import { openDatabase } from "../store/database.ts";
 * await printLogs(openContext({ db: openDatabase(":memory:") }), [], { follow: false, json: true });
 * ```
 */
export async function printLogs(
  ctx: Pick<ApiContext, "db">,
  positionals: string[],
  options: { follow: boolean; json: boolean },
): Promise<number> {
  const session = sessionArgument(ctx, positionals, "logs");
  for await (const r of requestRecords(ctx, { session, follow: options.follow })) {
    console.log(options.json ? JSON.stringify(r) : formatRequest(r));
  }
  return 0;
}

/**
 * The session id named by the optional positional argument, or undefined for all sessions.
 * Throws {@linkcode UsageError} for an unknown or ambiguous id, or extra arguments.
 *
 * @example
 * ```ts
 * import { sessionArgument } from "./logs.ts";
 * import { openContext } from "../api/context.ts";
 * import { openDatabase } from "../store/database.ts";
 * const ctx = openContext({ db: openDatabase(":memory:") });
 * console.assert(sessionArgument(ctx, [], "logs") === undefined);
 * ```
 */
export function sessionArgument(
  ctx: Pick<ApiContext, "db">,
  positionals: string[],
  command: string,
): string | undefined {
  if (positionals.length > 1) {
    throw new UsageError(`Too many arguments: see \`agentbox ${command} --help\``);
  }
  if (positionals.length === 0) return undefined;
  return resolveSessionRef(ctx, positionals[0]);
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
