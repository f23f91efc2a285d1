/**
 * A VM's memory and device state in a file, through QEMU's migration: QMP `migrate` to
 * `exec:cat > FILE` on the running VM, `migrate-incoming "exec:cat FILE"` on a new QEMU started
 * with the same devices and `-incoming defer`. (QEMU 7.2, Debian 12's, has no `file:` migration
 * URI; `exec:` is the portable form.) Disks are not in the file: their contents stay in their
 * image files. A VM whose memory is a shared file (a template being made: `VmSpec.memoryFile`)
 * can leave its memory out of the state (`memoryInFile`): the file is the memory.
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
 * The QEMU arguments of a VM that is to be restored: it starts paused (`-S`) and waits for the
 * state to load over QMP ({@linkcode restoreState}), which first sets the migration's
 * capabilities (QEMU 7.2 cannot set them on its command line).
 *
 * @example
 * ```ts
 * import { INCOMING_ARGS } from "./snapshot_state.ts";
 * console.assert(INCOMING_ARGS.includes("defer"));
 * ```
 */
export const INCOMING_ARGS: readonly string[] = ["-S", "-incoming", "defer"];

/**
 * The migration capability that leaves RAM in a shared memory file out of the stream
 * (`x-ignore-shared`): a template's memory is its file (`VmSpec.memoryFile`), its state file holds
 * the devices only. Set on both sides, explicitly every time: the stream's format depends on it.
 */
const IGNORE_SHARED = "x-ignore-shared";

async function setIgnoreShared(qmp: QmpClient, state: boolean): Promise<void> {
  await qmp.execute("migrate-set-capabilities", {
    capabilities: [{ capability: IGNORE_SHARED, state }],
  });
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
    await migrateTo(qmp, file, options);
    await options.whilePaused?.();
  } finally {
    if (options.resume) await qmp.execute("cont");
  }
}

async function migrateTo(qmp: QmpClient, file: string, options: SaveOptions): Promise<void> {
  await qmp.execute("migrate-set-parameters", { "max-bandwidth": UNTHROTTLED_BYTES_PER_SECOND });
  await setIgnoreShared(qmp, options.memoryInFile === true);
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

/** What {@linkcode restoreState} loads. */
export interface RestoreSource {
  /** The state file {@linkcode saveState} wrote. */
  file: string;
  /** It was saved with `memoryInFile` (the VM's memory is its `VmSpec.memoryFile`). */
  memoryInFile?: boolean;
}

/**
 * Restore a QEMU started with {@linkcode INCOMING_ARGS}: load `source`, wait until it is
 * loaded, resume the VM and greet its agent over `conn` (connected before the resume). Throws
 * {@linkcode QmpError} when QEMU fails, `AgentError` when the agent does not answer.
 *
 * @example
 * ```ts
 * import { restoreState } from "./snapshot_state.ts";
 * import type { QmpClient } from "./qmp.ts";
 * declare const qmp: QmpClient;
 * declare const conn: Deno.Conn;
 * const agent = await restoreState(qmp, conn, { file: "/cache/agentbox/templates/x/state" });
 * ```
 */
export async function restoreState(
  qmp: QmpClient,
  conn: Deno.Conn,
  source: RestoreSource,
): Promise<AgentClient> {
  await loadState(qmp, source);
  await qmp.execute("cont");
  return await AgentClient.reconnect(conn);
}

/**
 * Load `source` into a QEMU started with {@linkcode INCOMING_ARGS} and wait until it is loaded
 * (the VM stays paused). Throws {@linkcode QmpError}.
 *
 * @example
 * ```ts
 * import { loadState } from "./snapshot_state.ts";
 * import type { QmpClient } from "./qmp.ts";
 * declare const qmp: QmpClient;
 * await loadState(qmp, { file: "/cache/agentbox/templates/x/state", memoryInFile: true });
 * ```
 */
export async function loadState(qmp: QmpClient, source: RestoreSource): Promise<void> {
  await setIgnoreShared(qmp, source.memoryInFile === true);
  await qmp.execute("migrate-incoming", { uri: `exec:cat ${shellQuote(source.file)}` });
  for (;;) {
    const { status } = await qmp.execute("query-status") as { status: string };
    // "inmigrate" from the start (`-incoming`) until the state is loaded; QEMU exits when the
    // load fails.
    if (status === "paused" || status === "prelaunch") return;
    if (status !== "inmigrate") {
      throw new QmpError(`Cannot restore the VM: QEMU is ${status} after loading its state`);
    }
    await delay(POLL_MS);
  }
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
