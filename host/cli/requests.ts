/**
 * `agentbox requests [SESSION] [--follow] [--json]`: the requests the egress proxy saw, from the
 * local database. It was `agentbox logs`, which now shows a session's command output. Host names
 * and paths come from the guest: lines are formatted by logs.ts's `formatRequest`, stripped of
 * terminal control characters.
 *
 * @module
 */

import { type ApiContext, openContext } from "../api/context.ts";
import { requestRecords } from "../api/network_records.ts";
import { formatRequest, sessionArgument } from "./logs.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox requests`. */
export const REQUESTS_HELP = `Show the network requests sandboxes made, oldest first.

Usage: agentbox requests [SESSION] [--follow] [--json]

SESSION is a session id or a unique prefix of one; without it, every session is shown. (This
was \`agentbox logs\`, which now shows a session's command output.)

Options:
  -f, --follow  keep printing new requests as they are recorded (Ctrl-C stops)
  --json        one JSON object per line
  -h, --help    show this help`;

/** Run `agentbox requests ARGS`. */
export async function requestsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("requests", args, {
    follow: { type: "boolean", short: "f" },
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(REQUESTS_HELP);
    return 0;
  }
  await using ctx = openContext();
  return await printRequests(ctx, positionals, { follow: !!values.follow, json: !!values.json });
}

/**
 * The body of `agentbox requests` in a core context.
 *
 * @example
 * ```ts
 * import { printRequests } from "./requests.ts";
 * import { openContext } from "../api/context.ts";
 * import { openDatabase } from "../store/database.ts";
 * await printRequests(openContext({ db: openDatabase(":memory:") }), [], { follow: false, json: true });
 * ```
 */
export async function printRequests(
  ctx: Pick<ApiContext, "db">,
  positionals: string[],
  options: { follow: boolean; json: boolean },
): Promise<number> {
  const session = sessionArgument(ctx, positionals, "requests");
  for await (const r of requestRecords(ctx, { session, follow: options.follow })) {
    console.log(options.json ? JSON.stringify(r) : formatRequest(r));
  }
  return 0;
}
