/**
 * `agentbox run --detach [--name N] [-- CMD]`: start a long-lived session whose owner outlives
 * this command, print its id, and return as soon as it is running.
 *
 * @module
 */

import { startOwner } from "../session/start_owner.ts";
import { openDatabase } from "../store/database.ts";
import { nameTaken } from "../store/session_lifecycle.ts";
import { VM_DEFAULTS } from "../vm/spec.ts";
import { UsageError } from "./errors.ts";
import { DEFAULT_COMMAND } from "./run.ts";
import { sandboxPlan } from "./sandbox.ts";
import type { DetachedSpec } from "./session_daemon.ts";

/** How long `run --detach` waits for the session beyond the boot timeout (packing a share). */
const START_MARGIN_MS = 5 * 60_000;

/** What a session name may look like: it never reads as an option or a path. */
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

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
  if (name !== undefined && !NAME.test(name)) {
    throw new UsageError(
      `--name ${JSON.stringify(name)}: use a letter, then letters, digits, "_", "." or "-" ` +
        "(at most 63)",
    );
  }
  const plan = sandboxPlan(
    "run",
    values,
    positionals.length > 0 ? positionals : [...DEFAULT_COMMAND],
    { interactive: false, share: values["no-share"] ? undefined : Deno.cwd(), prompts: false },
  );
  const db = openDatabase();
  try {
    if (name !== undefined && nameTaken(db, name)) {
      throw new UsageError(
        `A session named ${name} exists: pick another name, or \`agentbox rm ${name}\` it`,
      );
    }
    const id = crypto.randomUUID();
    const spec: DetachedSpec = { id, name, plan, runCommand: positionals.length > 0 };
    const session = await startOwner(db, id, {
      spec,
      timeoutMs: VM_DEFAULTS.bootTimeoutMs + START_MARGIN_MS,
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
