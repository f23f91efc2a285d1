/**
 * `agentbox ps [--json]`: the long-lived sessions, with the state observed now (an owner that
 * holds its lock is alive; one that recorded `running` but holds nothing died: `dead`).
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { isAlive, listSessions } from "../api/sessions.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox ps`. */
export const PS_HELP =
  `List long-lived sessions (\`agentbox run --detach\`); with -a, one-shot runs too.

Usage: agentbox ps [-a] [--json]

STATE is observed, not only recorded: booting, running, stopping, stopped, failed (it never
ran), or dead (its owner process is gone without stopping: killed, or the host went down; its
workspace changes can still be recovered with \`agentbox diff SESSION\`). A one-shot run
(\`exec\`, \`run\` without --detach) is running, exited, or dead (its agentbox process was
killed). CHANGES says whether collected workspace changes are pending (not applied), applied, or
none. Removed sessions (\`agentbox rm\`, \`agentbox prune\`) are not listed.

Options:
  -a, --all   list one-shot runs too (with KIND one-shot), after the long-lived sessions
  --json      print a JSON array: id, kind (detached or one-shot), name, state, changes, recorded
              status, ownerPid, controlSocket, guestAddress (the VM's address on a tap network,
              which the host can reach), startedAt, endedAt (ms since the epoch), project, detail
  -h, --help  show this help`;

/**
 * Run `agentbox ps ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { psCommand } from "./ps.ts";
 * await psCommand(["--json"]);
 * ```
 */
export async function psCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("ps", args, {
    json: { type: "boolean" },
    all: { type: "boolean", short: "a" },
  });
  if (values.help) {
    console.log(PS_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("ps takes no arguments: see `agentbox ps --help`");
  }
  await using ctx = openContext();
  const entries = await listSessions(ctx, { all: !!values.all });
  if (values.json) {
    console.log(JSON.stringify(entries));
    return 0;
  }
  const table = [
    ["NAME", "ID", ...values.all ? ["KIND"] : [], "STATE", "CHANGES", "PID", "STARTED", "PROJECT"],
  ];
  for (const e of entries) {
    table.push([
      e.name ?? "-",
      e.id.slice(0, 8),
      ...values.all ? [e.kind] : [],
      e.state,
      e.changes,
      isAlive(e.state) ? String(e.ownerPid ?? "-") : "-",
      new Date(e.startedAt).toISOString().replace(/\.\d+Z$/, "Z"),
      e.project ? escapeControls(e.project) : "-",
    ]);
  }
  printTable(table);
  return 0;
}
