/**
 * How the network request log is shown (`agentbox requests`, whose command is in requests.ts):
 * one request as a line, and the optional session argument the request-log commands take. Host
 * names and paths come from the guest, so text output is stripped of terminal control
 * characters.
 *
 * @module
 */

import type { ApiContext } from "../api/context.ts";
import { type RequestRecord, resolveSessionRef } from "../api/network_records.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";

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
 * One request as a line: time, session prefix, decision, status, method, URL, bytes, rule. The
 * tunnel of inspected requests is marked `tunnel` (transport: its requests have lines of their
 * own), and a request the proxy injected a credential into says which header.
 *
 * @example
 * ```ts
 * import { formatRequest } from "./logs.ts";
 * console.log(formatRequest({
 *   id: 1, kind: "request", session: "0f3c2a9e", startedAt: 0, method: "GET", scheme: "https",
 *   host: "example.com", port: 443, path: "/", decision: "allow", rule: "allow", status: 200,
 *   bytesUp: 10, bytesDown: 20, durationMs: 5, credential: "x-api-key",
 * }));
 * ```
 */
export function formatRequest(r: RequestRecord): string {
  const time = new Date(r.startedAt).toISOString().replace("T", " ").slice(0, 19);
  const target = `${r.scheme}://${r.host}:${r.port}${r.path ?? ""}`;
  const status = r.status ?? "-";
  const bytes = `up ${r.bytesUp ?? 0} down ${r.bytesDown ?? 0}`;
  const method = r.kind === "tunnel" ? `${r.method} tunnel` : r.method;
  const credential = r.credential ? ` credential ${r.credential} injected` : "";
  return escapeControls(
    `${time} ${r.session.slice(0, 8)} ${
      r.decision.padEnd(5)
    } ${status} ${method} ${target} ${bytes}${credential} (${r.rule})`,
  );
}
