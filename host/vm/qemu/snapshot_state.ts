/**
 * A VM's memory and device state in a file, through QEMU's migration: QMP `migrate` to
 * `exec:cat > FILE` on the running VM, `-incoming "exec:cat FILE"` on a new QEMU started with the
 * same devices. (QEMU 7.2, Debian 12's, has no `file:` migration URI; `exec:` is the portable
 * form.) Disks are not in the file: their contents stay in their image files.
 *
 * The agent's channel survives a restore without the guest noticing: the host connects to the new
 * QEMU's agent socket while the VM is still paused, so the virtio-serial port's "host connected"
 * state the guest saw at save time is also true when it wakes up — it never sees a hang-up. The
 * host then greets first (`AgentClient.reconnect`) and the agent answers with its hello.
 *
 * @module
 */

import { AgentClient } from "../../channel/agent_client.ts";
import { delay } from "../../delay.ts";
import type { SaveOptions } from "../running_vm.ts";
import { type QmpClient, QmpError } from "./qmp.ts";

export type { SaveOptions } from "../running_vm.ts";

const POLL_MS = 5;

/** QEMU throttles migration to 128 MiB/s by default; a save to a local file should not wait. */
const UNTHROTTLED_BYTES_PER_SECOND = 2 ** 40;

/**
 * The QEMU arguments that load `file` at start-up and leave the VM paused (`-S`) until `cont`.
 *
 * @example
 * ```ts
 * import { incomingArgs } from "./snapshot_state.ts";
 * console.assert(incomingArgs("/t/it's").at(-1) === `exec:cat '/t/it'\\''s'`);
 * ```
 */
export function incomingArgs(file: string): string[] {
  return ["-S", "-incoming", `exec:cat ${shellQuote(file)}`];
}

/**
 * Save the VM's state to `file`: pause it, migrate into the file, run `whilePaused` (e.g. copy
 * the disks, which then match the saved memory), and resume it if asked — also when
 * `whilePaused` throws, which is rethrown. Throws {@linkcode QmpError} when the migration fails.
 *
 * @example
 * ```ts
 * import { saveState } from "./snapshot_state.ts";
 * import type { QmpClient } from "./qmp.ts";
 * declare const qmp: QmpClient;
 * await saveState(qmp, "/var/cache/agentbox/templates/x/state", { resume: false });
 * ```
 */
export async function saveState(
  qmp: QmpClient,
  file: string,
  options: SaveOptions = {},
): Promise<void> {
  await qmp.execute("stop");
  try {
    await migrateTo(qmp, file);
    await options.whilePaused?.();
  } finally {
    if (options.resume) await qmp.execute("cont");
  }
}

async function migrateTo(qmp: QmpClient, file: string): Promise<void> {
  await qmp.execute("migrate-set-parameters", { "max-bandwidth": UNTHROTTLED_BYTES_PER_SECOND });
  await qmp.execute("migrate", { uri: `exec:cat > ${shellQuote(file)}` });
  for (;;) {
    const info = await qmp.execute("query-migrate") as { status?: string; "error-desc"?: string };
    if (info.status === "completed") break;
    if (info.status === "failed" || info.status === "cancelled") {
      throw new QmpError(`Cannot save the VM's state: ${info["error-desc"] ?? info.status}`);
    }
    await delay(POLL_MS);
  }
}

/**
 * Finish a restore on a QEMU started with {@linkcode incomingArgs}: wait until the state is
 * loaded, run `options.beforeResume` (a warm pool holds the loaded VM there until it is taken), resume
 * the VM and greet its agent over `conn` (connected before the resume). Throws
 * {@linkcode QmpError} when QEMU fails, `AgentError` when the agent does not answer, and what
 * `beforeResume` threw.
 *
 * @example
 * ```ts
 * import { restoreState } from "./snapshot_state.ts";
 * import type { QmpClient } from "./qmp.ts";
 * declare const qmp: QmpClient;
 * declare const conn: Deno.Conn;
 * const agent = await restoreState(qmp, conn);
 * ```
 */
export async function restoreState(
  qmp: QmpClient,
  conn: Deno.Conn,
  options: { beforeResume?: () => Promise<void> } = {},
): Promise<AgentClient> {
  for (;;) {
    const { status } = await qmp.execute("query-status") as { status: string };
    if (status === "paused" || status === "prelaunch") break;
    if (status !== "inmigrate") {
      throw new QmpError(`Cannot restore the VM: QEMU is ${status} after loading its state`);
    }
    await delay(POLL_MS);
  }
  await options.beforeResume?.();
  await qmp.execute("cont");
  return await AgentClient.reconnect(conn);
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
