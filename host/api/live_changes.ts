/**
 * A running session's changes, collected now: `agentbox diff S` and `agentbox apply S` on a
 * session that runs, and `diff S --system`, first ask its owner to collect them
 * (`session.collect`), then read the stored changeset as for a stopped session. The commands
 * run on; what they write after the collection is in the next one.
 *
 * @module
 */

import type { CollectScope } from "@agentbox/protocol";
import { observedState } from "../session/session_liveness.ts";
import { findLifecycle } from "../store/session_lifecycle.ts";
import type { ApiContext } from "./context.ts";
import { connectToSession } from "./session_connect.ts";

/**
 * When session `id` is a running long-lived session, have its owner collect its changes of
 * `scope` now (stored as its changeset, replacing the previous one); returns whether it did.
 * Throws `AgentError` (`collect_failed`) when the owner could not.
 *
 * @example
 * ```ts
 * import { collectIfRunning } from "./live_changes.ts";
 * import type { ApiContext } from "./context.ts";
 * declare const ctx: ApiContext, id: string;
 * if (await collectIfRunning(ctx, id, "workspace")) console.log("collected just now");
 * ```
 */
export async function collectIfRunning(
  ctx: Pick<ApiContext, "db" | "onEvent">,
  id: string,
  scope: CollectScope,
): Promise<boolean> {
  const session = findLifecycle(ctx.db, id);
  if (!session || await observedState(session) !== "running") return false;
  ctx.onEvent({
    type: "progress",
    message: `session ${session.name ?? id.slice(0, 8)} is running: collecting its ${
      scope === "system" ? "system" : "workspace"
    } changes as they are now`,
  });
  const { agent } = await connectToSession(id);
  try {
    await agent.collectSessionChanges(scope);
  } finally {
    agent.close();
  }
  return true;
}
