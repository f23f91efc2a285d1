/**
 * `agentbox run --detach [--name N] [-- CMD]`: start a long-lived session whose owner outlives
 * this command, print its id, and return as soon as it is running.
 *
 * @module
 */

import { isValidName, NAME_RULE } from "../session/names.ts";
import { startOwner } from "../session/start_owner.ts";
import { openDatabase } from "../store/database.ts";
import { nameTaken } from "../store/session_lifecycle.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_COMMAND } from "./run.ts";
import { sandboxPlan } from "./sandbox_plan.ts";
import type { DetachedSpec } from "./session_daemon.ts";

/** How long `run --detach` waits for the session beyond the boot timeout (packing a share). */
const START_MARGIN_MS = 5 * 60_000;

/**
 * Start a detached session from `run`'s parsed options; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { runDetached } from "./detached_run.ts";
 * await runDetached({ detach: true, name: "web" }, []);
 * ```
 */
export async function runDetached(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<number> {
  if (values.apply || values.discard) {
    throw new UsageError(
      "--apply and --discard do not go with --detach: `agentbox stop` keeps the changes for " +
        "`agentbox diff` and `agentbox apply`",
    );
  }
  const name = values.name as string | undefined;
  if (name !== undefined && !isValidName(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: ${NAME_RULE}`);
  }
  const plan = sandboxPlan(
    "run",
    values,
    positionals.length > 0 ? positionals : [...DEFAULT_COMMAND],
    { interactive: false, share: values["no-share"] ? undefined : Deno.cwd(), prompts: false },
  );
  return await launchDetached({ name, plan, runCommand: positionals.length > 0 });
}

/**
 * Start the owner of a new detached session from `spec` (an id is picked), wait until it runs,
 * print its id on stdout and how to use it on stderr; returns the exit status. Throws
 * `UsageError` when `spec.name` is taken and `SessionStartError` when the owner fails.
 *
 * @example
 * ```ts ignore
 * import { launchDetached } from "./detached_run.ts";
 * await launchDetached({ name: "b", plan, runCommand: false, restore: "base" });
 * ```
 */
export async function launchDetached(
  spec: Omit<DetachedSpec, "id">,
  options: { cwd?: string } = {},
): Promise<number> {
  const name = spec.name;
  const db = openDatabase();
  try {
    if (name !== undefined && nameTaken(db, name)) {
      throw new UsageError(
        `A session named ${name} exists: pick another name, or \`agentbox rm ${name}\` it`,
      );
    }
    const id = crypto.randomUUID();
    const session = await startOwner(db, id, {
      spec: { ...spec, id } satisfies DetachedSpec,
      timeoutMs: VM_DEFAULTS.bootTimeoutMs + START_MARGIN_MS,
      cwd: options.cwd,
    });
    console.log(session.id);
    const ref = name ?? session.id.slice(0, 8);
    console.error(
      `agentbox: session ${ref} is running: \`agentbox shell ${ref}\`, ` +
        `\`agentbox exec --session ${ref} -- CMD\`, \`agentbox stop ${ref}\``,
    );
    return 0;
  } finally {
    db.close();
  }
}
