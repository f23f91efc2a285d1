/**
 * `agentbox session-daemon ID` (hidden): the process that owns a detached session. `agentbox run
 * --detach` starts it in a session of its own (`setsid`), its stdout and stderr going to the
 * session's `owner.log`. This edge takes the session's lock before anything else exists, reads
 * and validates the plan it was handed, turns SIGTERM (`agentbox stop`) into a stop request and
 * the core's events into timestamped log lines; the owning itself is the core's
 * (`ownSession`, host/api/session_owner.ts).
 *
 * @module
 */

import { openContext } from "../api/context.ts";
import { claimSession, ownSession } from "../api/session_owner.ts";
import type { Standby } from "../api/standby.ts";
import { STANDBY_FLAG } from "../api/owner_command.ts";
import { exitStatusFor, reportError, UsageError } from "./errors.ts";

/** The ids `run --detach` makes (`crypto.randomUUID()`). */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Own session `args[0]` until it is stopped; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { sessionDaemonCommand } from "./session_daemon.ts";
 * Deno.exit(await sessionDaemonCommand(["0f3c2a9e-…"]));
 * ```
 */
export async function sessionDaemonCommand(args: string[]): Promise<number> {
  const log = (line: string) => console.error(`${new Date().toISOString()} ${line}`);
  try {
    const standbyMode = args.length === 2 && args[1] === STANDBY_FLAG;
    if ((args.length !== 1 && !standbyMode) || !SESSION_ID.test(args[0])) {
      throw new UsageError(
        "session-daemon is internal: `agentbox run --detach` starts it with one session id " +
          `(and \`agentbox serve\` with ${STANDBY_FLAG})`,
      );
    }
    const claim = await claimSession(args[0]);
    // From here on the owner is this process: stop requests wait until the VM is up.
    const stop = Promise.withResolvers<void>();
    const onStop = () => stop.resolve();
    const ignore = () => {}; // No terminal to lose; keep running.
    Deno.addSignalListener("SIGTERM", onStop);
    Deno.addSignalListener("SIGINT", onStop);
    Deno.addSignalListener("SIGHUP", ignore);
    let standby: Standby | undefined;
    try {
      // A progress bar's steps (packing a large share) would flood the log: the rest is kept.
      await using ctx = openContext({
        onEvent: (event) => event.type !== "step-progress" && log(event.message),
      });
      if (standbyMode) {
        // `agentbox serve --pool-sessions`: warm a VM, then wait for the plan (api/standby.ts).
        const { standBy } = await import("../api/standby.ts");
        standby = await standBy(ctx, args[0], claim.paths, stop.promise);
        if (!standby) return 0;
      }
      const plan = await claim.readPlan();
      await ownSession(ctx, plan, {
        paths: claim.paths,
        stopped: stop.promise,
        warm: standby?.warm,
      });
      return 0;
    } finally {
      await standby?.warm.release();
      Deno.removeSignalListener("SIGTERM", onStop);
      Deno.removeSignalListener("SIGINT", onStop);
      Deno.removeSignalListener("SIGHUP", ignore);
      await claim.release();
    }
  } catch (error) {
    // The owner's log is its stderr: one line, with causes.
    reportError(error, { verbose: true });
    return exitStatusFor(error);
  }
}
