/**
 * `agentbox ps [--json]`: the long-lived sessions, with the state observed now (an owner that
 * holds its lock is alive; one that recorded `running` but holds nothing died: `dead`).
 *
 * @module
 */

import { tapGuestAddress } from "../net/tap_device.ts";
import type { LifecycleRecord } from "../store/session_lifecycle.ts";
import { listLifecycles } from "../store/session_lifecycle.ts";
import { openDatabase } from "../store/database.ts";
import { observedState, type SessionState } from "../session/session_liveness.ts";
import { sessionPaths } from "../session/session_paths.ts";
import { UsageError } from "./errors.ts";
import { safeText } from "./logs.ts";
import { parseCommandArgs } from "./options.ts";
import { printTable } from "./table.ts";

/** Help text of `agentbox ps`. */
export const PS_HELP = `List long-lived sessions (\`agentbox run --detach\`).

Usage: agentbox ps [--json]

STATE is observed, not only recorded: booting, running, stopping, stopped, failed (it never
ran), or dead (its owner process is gone without stopping: killed, or the host went down; its
workspace changes can still be recovered with \`agentbox diff SESSION\`). Removed sessions
(\`agentbox rm\`, \`agentbox prune\`) are not listed.

Options:
  --json      print a JSON array: id, name, state, recorded status, ownerPid, controlSocket,
              guestAddress (the VM's address on a tap network, which the host can reach),
              startedAt, endedAt (ms since the epoch), project, detail
  -h, --help  show this help`;

/** One session as `ps --json` prints it. */
export interface PsEntry {
  id: string;
  name: string | null;
  state: SessionState;
  status: string;
  ownerPid: number | null;
  controlSocket: string | null;
  /** The VM's address on its tap network (live tap sessions only). */
  guestAddress: string | null;
  startedAt: number;
  endedAt: number | null;
  project: string | null;
  detail: string | null;
}

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
  const { values, positionals } = parseCommandArgs("ps", args, { json: { type: "boolean" } });
  if (values.help) {
    console.log(PS_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError("ps takes no arguments: see `agentbox ps --help`");
  }
  const db = openDatabase();
  let entries: PsEntry[];
  try {
    entries = await Promise.all(listLifecycles(db).map(entry));
  } finally {
    db.close();
  }
  if (values.json) {
    console.log(JSON.stringify(entries));
    return 0;
  }
  const table = [["NAME", "ID", "STATE", "PID", "STARTED", "PROJECT"]];
  for (const e of entries) {
    table.push([
      e.name ?? "-",
      e.id.slice(0, 8),
      e.state,
      e.state === "running" || e.state === "booting" || e.state === "stopping"
        ? String(e.ownerPid ?? "-")
        : "-",
      new Date(e.startedAt).toISOString().replace(/\.\d+Z$/, "Z"),
      e.project ? safeText(e.project) : "-",
    ]);
  }
  printTable(table);
  return 0;
}

async function entry(session: LifecycleRecord): Promise<PsEntry> {
  const state = await observedState(session);
  const alive = state === "running" || state === "booting" || state === "stopping";
  return {
    id: session.id,
    name: session.name,
    state,
    status: session.status,
    ownerPid: session.ownerPid,
    controlSocket: alive ? sessionPaths(session.id).controlSocket : null,
    guestAddress: alive ? (await tapGuestAddress(session.id).catch(() => undefined)) ?? null : null,
    startedAt: session.startedAt,
    endedAt: session.endedAt,
    project: session.project,
    detail: session.detail,
  };
}
