/**
 * `agentbox system df`: what agentbox keeps on disk, by kind, and what `agentbox prune` would
 * free (docker's `system df`).
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { diskUsage } from "../api/storage.ts";
import { escapeControls } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox system`. */
export const SYSTEM_HELP = `Show what agentbox keeps on this host.

Usage: agentbox system df [--json]

df lists, for images, templates (the snapshots sandboxes start from), sessions (their state:
upper disks, collected changes, logs), share caches (packed copies of shared directories), the
package cache (downloaded .debs) and the database: how many there are, the space they take on
disk (allocated blocks, so sparse disks count what they hold), and how much \`agentbox prune\`
would free (ended sessions and one-shot runs, orphaned session files, share caches no live
session uses).

Options:
  --json      print a JSON array: what, path, count, bytes, reclaimableBytes
  -h, --help  show this help`;

/**
 * A size for people: `0 B`, `512 B`, `3.4 KiB`, `1.2 GiB`.
 *
 * @example
 * ```ts
 * import { formatSize } from "./system.ts";
 * console.assert(formatSize(1536) === "1.5 KiB");
 * console.assert(formatSize(0) === "0 B");
 * ```
 */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) (value /= 1024, unit++);
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Run `agentbox system ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { systemCommand } from "./system.ts";
 * await systemCommand(["df"]);
 * ```
 */
export async function systemCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("system", args, {
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(SYSTEM_HELP);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "df") {
    throw new UsageError("Usage is `agentbox system df [--json]`: see `agentbox system --help`");
  }
  await using ctx = openContext();
  const rows = await diskUsage(ctx);
  if (values.json) {
    console.log(JSON.stringify(rows));
    return 0;
  }
  printTable([
    ["WHAT", "COUNT", "SIZE", "RECLAIMABLE", "WHERE"],
    ...rows.map((r) => [
      r.what,
      String(r.count),
      formatSize(r.bytes),
      formatSize(r.reclaimableBytes),
      escapeControls(r.path),
    ]),
  ]);
  return 0;
}
