/**
 * `agentbox snapshot save|restore|ls|rm`: save a running session (memory, device state and its
 * disks) under a name, and start new sessions from it — forks that go their own ways.
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import {
  listSnapshotInfos,
  removeSnapshots,
  restoreSnapshot,
  saveSnapshot,
  type SnapshotInfo,
} from "../api/snapshots.ts";
import { isValidName, NAME_RULE } from "../api/spec_vocabulary.ts";
import { label } from "../api/sessions.ts";
import { printStarted } from "./detached_run.ts";
import { UsageError } from "./errors.ts";
import { parseCommandArgs } from "./options.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox snapshot`. */
export const SNAPSHOT_HELP = `Save running sessions and start new ones from them.

Usage: agentbox snapshot <command>

Commands:
  save SESSION NAME       save a running session as snapshot NAME; the session runs on
  restore NAME [--as NEW] start a new session from snapshot NAME
  ls [--json]             list snapshots
  rm NAME...              remove snapshots

A snapshot holds the VM's memory and device state and a copy of the session's workspace disks:
processes, files (in /workspace and elsewhere) and the workspace's pending changes. Snapshots
live under ${"$"}XDG_STATE_HOME/agentbox/snapshots. Run \`agentbox snapshot <command> --help\`
for details.`;

/** Help text of `agentbox snapshot save`. */
export const SNAPSHOT_SAVE_HELP = `Save a running session as a snapshot.

Usage: agentbox snapshot save SESSION NAME

SESSION is a session's name, id or a unique prefix of an id; NAME starts with a letter, then
letters, digits, "_", "." or "-" (at most 63). The session's VM is paused while its memory and
disks are saved (commands in it wait, then go on), and runs on afterwards.

Options:
  -v, --verbose   print the causes of an error
  -h, --help      show this help

Exit status: 0 saved, 125 usage error, unknown session or NAME taken, 126 the session is not
running or could not be saved.`;

/** Help text of `agentbox snapshot restore`. */
export const SNAPSHOT_RESTORE_HELP = `Start a new session from a snapshot.

Usage: agentbox snapshot restore NAME [--as SESSION]

The new session is a fork: it continues from the moment of the snapshot — the same processes,
files and pending workspace changes — on its own copy of the snapshot's disks, with its own
network proxies. The session the snapshot came from may keep running; any number of sessions
can be restored from one snapshot, and each goes its own way. Prints the new session's id. When
it stops, its changes are collected against the project as it was when the original session
started (\`agentbox diff\`, \`agentbox apply\`).

Options:
  --as SESSION    name the new session (default: none; use its id)
  -v, --verbose   print the causes of an error
  -h, --help      show this help

Exit status: 0 the session is running, 125 usage error, unknown snapshot or the name is taken,
126 the session could not start.`;

/** Help text of `agentbox snapshot ls`. */
export const SNAPSHOT_LS_HELP = `List snapshots.

Usage: agentbox snapshot ls [--json]

SIZE is what the snapshot takes on disk (its disks are sparse).

Options:
  --json      print a JSON array: name, source (id, name), createdAt (ms since the epoch), bytes
  -h, --help  show this help`;

/** Help text of `agentbox snapshot rm`. */
export const SNAPSHOT_RM_HELP = `Remove snapshots.

Usage: agentbox snapshot rm NAME...

Sessions restored from a snapshot keep running: they have their own copies of its disks.

Options:
  -h, --help  show this help

Exit status: 0 removed, 125 usage error or unknown snapshot.`;

/**
 * Run `agentbox snapshot ARGS`; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { snapshotCommand } from "./snapshot.ts";
 * await snapshotCommand(["save", "web", "before-upgrade"]);
 * ```
 */
export async function snapshotCommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "save":
      return await save(rest);
    case "restore":
      return await restore(rest);
    case "ls":
    case "list":
      return await list(rest);
    case "rm":
      return await remove(rest);
    case undefined:
    case "-h":
    case "--help":
      console.log(SNAPSHOT_HELP);
      return command === undefined ? 125 : 0;
    default:
      throw new UsageError(
        `Unknown snapshot command ${JSON.stringify(command.slice(0, 80))}: ` +
          "see `agentbox snapshot --help`",
      );
  }
}

async function save(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("snapshot save", args, {
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(SNAPSHOT_SAVE_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    throw new UsageError("Usage is `agentbox snapshot save SESSION NAME`");
  }
  const [ref, name] = positionals;
  await using ctx = openContext();
  const session = await saveSnapshot(ctx, ref, name);
  console.error(
    `agentbox: session ${label(session)} saved as snapshot ${name}: ` +
      `\`agentbox snapshot restore ${name} --as NEW\``,
  );
  return 0;
}

async function restore(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("snapshot restore", args, {
    as: { type: "string" },
    verbose: { type: "boolean" },
  });
  if (values.help) {
    console.log(SNAPSHOT_RESTORE_HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("Usage is `agentbox snapshot restore NAME [--as SESSION]`");
  }
  const name = values.as as string | undefined;
  if (name !== undefined && !isValidName(name)) {
    throw new UsageError(`--as ${JSON.stringify(name.slice(0, 80))}: ${NAME_RULE}`);
  }
  await using ctx = openContext();
  printStarted(await restoreSnapshot(ctx, positionals[0], { as: name }));
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("snapshot ls", args, {
    json: { type: "boolean" },
  });
  if (values.help) {
    console.log(SNAPSHOT_LS_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError("snapshot ls takes no arguments");
  const snapshots = await listSnapshotInfos();
  if (values.json) {
    console.log(JSON.stringify(snapshots.map(jsonEntry)));
    return 0;
  }
  const table = [["NAME", "SESSION", "SIZE", "CREATED"]];
  for (const s of snapshots) {
    table.push([
      s.name,
      s.manifest.source.name ?? s.manifest.source.id.slice(0, 8),
      `${(s.bytes / 1024 / 1024).toFixed(0)} MiB`,
      new Date(s.manifest.createdAt).toISOString().replace(/\.\d+Z$/, "Z"),
    ]);
  }
  printTable(table);
  return 0;
}

async function remove(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs("snapshot rm", args, {});
  if (values.help) {
    console.log(SNAPSHOT_RM_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("Usage is `agentbox snapshot rm NAME...`");
  await removeSnapshots(positionals);
  return 0;
}

function jsonEntry(s: SnapshotInfo) {
  return {
    name: s.name,
    source: s.manifest.source,
    createdAt: s.manifest.createdAt,
    bytes: s.bytes,
  };
}
