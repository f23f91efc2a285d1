/**
 * `agentbox prune`: remove every session that is stopped, failed or dead. A session whose owner is
 * alive — booting included — holds its lock, and removal needs that lock: prune cannot race it.
 *
 * @module
 */

import { label } from "../session/session_client.ts";
import { observedState } from "../session/session_liveness.ts";
import { removeSession } from "../session/stop_owner.ts";
import { openDatabase } from "../store/database.ts";
import { listLifecycles } from "../store/session_lifecycle.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox prune`. */
export const PRUNE_HELP = `Remove every session that is not alive.

Usage: agentbox prune [--dry-run]

Removes, as \`agentbox rm\` does, every session that is stopped, failed or dead (its owner gone:
killed, or the host went down — recover such a session's changes with \`agentbox diff SESSION\`
before pruning). Sessions that are booting, running or stopping are never touched.

Options:
  --dry-run   list what would be removed; remove nothing
  -h, --help  show this help`;

/**
 * Run `agentbox prune ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { pruneCommand } from "./prune.ts";
 * await pruneCommand([]);
 * ```
 */
export async function pruneCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("prune", args, {
    "dry-run": { type: "boolean" },
  });
  if (values.help) {
    console.log(PRUNE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("prune takes no arguments: see `agentbox prune --help`");
  }
  const db = openDatabase();
  try {
    let removed = 0;
    for (const session of listLifecycles(db)) {
      const state = await observedState(session);
      if (state !== "stopped" && state !== "failed" && state !== "dead") continue;
      if (values["dry-run"]) {
        console.log(`${session.id} ${label(session)} ${state}`);
        continue;
      }
      // removeSession takes the owner lock: a session that came alive meanwhile is left alone.
      if (await removeSession(db, session)) {
        console.log(`${session.id} ${label(session)} ${state}`);
        removed++;
      }
    }
    if (!values["dry-run"]) console.error(`agentbox: removed ${removed} session(s)`);
    return 0;
  } finally {
    db.close();
  }
}
