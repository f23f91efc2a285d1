/**
 * `agentbox usage [SESSION] [--by model|host|session] [--json]`: per destination host, how many
 * requests, how many were denied and how many bytes went each way; and, when AI API calls were
 * recorded, the tokens they spent per model (or host, or session).
 *
 * @module
 */

import { type ApiContext, openContext } from "../api/context.ts";
import {
  AI_USAGE_GROUPINGS,
  type AiUsageGrouping,
  type AiUsageRow,
  type HostUsage,
  usageReport,
} from "../api/network_records.ts";
import { escapeControls, printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { sessionArgument } from "./logs.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox usage`. */
export const USAGE_HELP = `Show network usage per host, and the tokens AI API calls spent.

Usage: agentbox usage [SESSION] [--by model|host|session] [--json]

SESSION is a session id or a unique prefix of one; without it, every session is counted.

The first table lists each destination host: requests, denials, bytes up and down. When AI API
calls were recorded, a second table sums them per model (or host, or session): calls, calls that
failed (status 400 or more), calls whose usage could not be read, input tokens (cached ones
included), output tokens (reasoning included), cache reads and writes, mean latency.

Options:
  --by KEY    group AI calls by model (default), host or session
  --json      print {"hosts": [...], "ai": {"by": KEY, "rows": [...]}}
  -h, --help  show this help`;

/** Options of {@linkcode printUsage}. */
export interface PrintUsageOptions {
  json: boolean;
  /** How to group AI calls (default `model`). */
  by?: AiUsageGrouping;
}

/** Run `agentbox usage ARGS`. */
// deno-lint-ignore require-await -- async so that argument errors reject, as in every command
export async function usageCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("usage", args, {
    json: { type: "boolean" },
    by: { type: "string" },
  });
  if (values.help) {
    console.log(USAGE_HELP);
    return 0;
  }
  const by = grouping(values.by);
  using ctx = openContext();
  return printUsage(ctx, positionals, { json: !!values.json, by });
}

function grouping(value: unknown): AiUsageGrouping {
  if (value === undefined) return "model";
  if (!AI_USAGE_GROUPINGS.includes(value as AiUsageGrouping)) {
    throw new UsageError(
      `--by must be model, host or session, got "${printable(String(value))}": ` +
        "see `agentbox usage --help`",
    );
  }
  return value as AiUsageGrouping;
}

/**
 * The body of `agentbox usage` in a core context.
 *
 * @example
 * ```ts
 * import { printUsage } from "./usage.ts";
 * import { openContext } from "../api/context.ts";
 * import { openDatabase } from "../store/database.ts";
 * printUsage(openContext({ db: openDatabase(":memory:") }), [], { json: false, by: "model" });
 * ```
 */
export function printUsage(
  ctx: Pick<ApiContext, "db">,
  positionals: string[],
  options: PrintUsageOptions,
): number {
  const session = sessionArgument(ctx, positionals, "usage");
  const by = options.by ?? "model";
  const report = usageReport(ctx, { session, by });
  const { hosts, ai: { rows: ai } } = report;
  if (options.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(formatUsage(hosts));
    if (ai.length > 0) console.log(`\n${formatAiUsage(ai, by)}`);
  }
  return 0;
}

/**
 * The per-host table as aligned text.
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
    table.push([escapeControls(r.host), r.requests, r.denied, r.bytesUp, r.bytesDown].map(String));
  }
  return align(table);
}

/**
 * The AI table as aligned text; the first column is the grouping key.
 *
 * @example
 * ```ts
 * import { formatAiUsage } from "./usage.ts";
 * console.log(formatAiUsage([{
 *   key: "claude-sonnet-4-5", calls: 2, failed: 0, unmetered: 0, inputTokens: 335,
 *   outputTokens: 20, cacheReadTokens: 300, cacheCreationTokens: 0, avgLatencyMs: 200,
 * }], "model"));
 * ```
 */
export function formatAiUsage(rows: AiUsageRow[], by: AiUsageGrouping): string {
  const table = [[
    by.toUpperCase(),
    "CALLS",
    "FAILED",
    "NO USAGE",
    "INPUT",
    "OUTPUT",
    "CACHE READ",
    "CACHE WRITE",
    "AVG MS",
  ]];
  for (const r of rows) {
    table.push([
      r.key === null ? "(unknown)" : escapeControls(r.key),
      ...[
        r.calls,
        r.failed,
        r.unmetered,
        r.inputTokens,
        r.outputTokens,
        r.cacheReadTokens,
        r.cacheCreationTokens,
        r.avgLatencyMs,
      ].map(String),
    ]);
  }
  return align(table);
}

function align(table: string[][]): string {
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ")
  ).join("\n");
}
