/**
 * Port forwards of a running session (`agentbox port`): the session's owner listens on a host
 * port and carries each connection into the guest over the agent channel; the forward dies with
 * the session. A forward asked for at run time (`run -p`) is part of the sandbox's spec
 * (sandbox_spec.ts `ports`).
 *
 * @module
 */

import { connectSession } from "../session/session_client.ts";
import type { ApiContext } from "./context.ts";

/** A forward of a session: host address and port, and the guest port behind it. */
export interface SessionForwardInfo {
  hostname: string;
  hostPort: number;
  guestPort: number;
}

/**
 * Forward a host port into `guestPort` of the running session `session`, and say where it
 * listens. Without `hostname` and `hostPort`, the forward of `guestPort` the session has (from
 * `run -p` or an earlier call) is returned, or a new one opened on a free loopback port. Throws
 * `SessionError`, `AgentError` (`forward_failed`: the owner could not listen there).
 *
 * @example
 * ```ts ignore
 * import { forwardSessionPort } from "./ports.ts";
 * const { hostname, hostPort } = await forwardSessionPort(ctx, { session: "web", guestPort: 8000 });
 * ```
 */
export async function forwardSessionPort(
  ctx: ApiContext,
  request: { session: string; guestPort: number; hostname?: string; hostPort?: number },
): Promise<SessionForwardInfo> {
  const { agent } = await connectSession(ctx.db, request.session);
  try {
    const address = await agent.forwardPort({
      guestPort: request.guestPort,
      hostname: request.hostname,
      hostPort: request.hostPort,
    });
    return { ...address, guestPort: request.guestPort };
  } finally {
    agent.close();
  }
}
