/**
 * Test helper: the guest agent served in-process on a unix socket and a connected host client,
 * as the host drives it through virtio-serial or vsock. Host-side test support (it joins the
 * host's client to the guest's session code, so it lives on the host side: guest-agent imports
 * nothing from the host).
 *
 * @module
 */

import { AgentClient } from "../agent_client.ts";
import { within } from "../../../guest-agent/protocol/testing/mod.ts";
import { serveConnection } from "../../../guest-agent/session.ts";

const HANG_MS = 10_000;

/**
 * An agent listening on a unix socket in a temporary directory, with one client connected.
 *
 * @example
 * ```ts
 * import { startAgent } from "./in_process_agent.ts";
 * await using agent = await startAgent();
 * const run = agent.client.exec({ argv: ["true"] });
 * ```
 */
export async function startAgent() {
  const dir = await Deno.makeTempDir({ prefix: "agentbox-agent-test-" });
  const path = `${dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) served.push(serveConnection(conn));
  })();
  const clients: AgentClient[] = [];
  const connect = async () => {
    const client = await within(
      AgentClient.connect(await Deno.connect({ transport: "unix", path })),
      HANG_MS,
      "connect",
    );
    clients.push(client);
    return client;
  };
  const client = await connect();
  return {
    dir,
    path,
    client,
    connect,
    served,
    async [Symbol.asyncDispose]() {
      for (const c of clients) c.close();
      await within(Promise.all(served), HANG_MS, "agent sessions to end");
      listener.close();
      await accepting;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
