/**
 * `agentbox prune`: remove every session that is stopped, failed or dead. A session whose owner is
 * alive — booting included — holds its lock, and removal needs that lock: prune cannot race it.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { printEvent } from "./print_event.ts";
import { pruneSessions } from "../api/sessions.ts";
import { pruneFiles } from "../api/storage.ts";
import { formatSize } from "./system.ts";
import { durationOption } from "./duration.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";

/** Help text of `agentbox prune`. */
export const PRUNE_HELP = `Remove every session that is not alive.

Usage: agentbox prune [--older-than DURATION] [--dry-run]

Removes, as \`agentbox rm\` does, every session that is stopped, failed or dead (its owner gone:
killed, or the host went down — recover such a session's changes with \`agentbox diff SESSION\`
before pruning), and every one-shot run (\`exec\`, \`run\` without --detach) that exited or
died, with its collected changes: \`agentbox ps -a\` lists them first. Sessions and runs that
are booting, running or stopping are never touched. Then the files nothing uses: session state
directories no session owns (upper disks, changesets left by a crash) and share caches (packed
copies of project directories) no live session is using — the next run of that project packs
it again — and what killed image builds left in the images directory. \`agentbox system df\`
shows what this would free.

Options:
  --older-than DURATION  only what ended (or, dead, started) at least this long ago: a number
                         and s, m, h or d (24h, 7d)
  --dry-run              list what would be removed; remove nothing
  -h, --help             show this help`;

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
    "older-than": { type: "string" },
  });
  if (values.help) {
    console.log(PRUNE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("prune takes no arguments: see `agentbox prune --help`");
  }
  const olderThanMs = durationOption("prune", "older-than", values["older-than"]);
  await using ctx = openContext({ onEvent: printEvent });
  const dryRun = !!values["dry-run"];
  const pruned = await pruneSessions(ctx, { dryRun, olderThanMs });
  for (const p of pruned) console.log(`${p.id} ${p.label} ${p.kind} ${p.state}`);
  const files = await pruneFiles(ctx, { dryRun, olderThanMs });
  for (const f of files) console.log(`${f.path} ${f.reason} ${formatSize(f.bytes)}`);
  if (!dryRun) {
    const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
    console.error(
      `agentbox: removed ${pruned.length} session(s) and ${files.length} unused ` +
        `folder(s) (${formatSize(bytes)})`,
    );
  }
  return 0;
}
