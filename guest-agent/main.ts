/**
 * The agentbox guest agent. Started by the image's init, it serves the wire protocol on vsock
 * when the VM has it, else on the virtio-serial port `agentbox`; tests run it on a unix socket.
 *
 * Usage: `agent.js --vsock PORT | --serial PATH | --unix PATH`
 *
 * @module
 */

import { serveConnection } from "./session.ts";

/** Where the agent listens, from its command line. */
export type Endpoint =
  | { kind: "vsock"; port: number }
  | { kind: "serial"; path: string }
  | { kind: "unix"; path: string };

/** Parse the agent's command line. */
export function parseEndpoint(args: string[]): Endpoint {
  const [flag, value] = args;
  if (flag === "--vsock" && /^\d+$/.test(value ?? "")) return { kind: "vsock", port: +value };
  if (flag === "--serial" && value) return { kind: "serial", path: value };
  if (flag === "--unix" && value) return { kind: "unix", path: value };
  throw new Error("usage: agent --vsock PORT | --serial PATH | --unix PATH");
}

/** Serve `endpoint` until the process is killed. */
export async function serve(endpoint: Endpoint): Promise<void> {
  if (endpoint.kind === "serial") {
    // The port stays open for the VM's life: bytes the host writes while it is closed are lost.
    const port = await Deno.open(endpoint.path, { read: true, write: true });
    await serveConnection(port);
    return;
  }
  const listener = endpoint.kind === "unix"
    ? Deno.listen({ transport: "unix", path: endpoint.path })
    : Deno.listen({ transport: "vsock", cid: -1, port: endpoint.port });
  for await (const conn of listener) {
    serveConnection(conn).catch((e) => console.error(`agent: connection failed: ${e}`));
  }
}

if (import.meta.main) {
  try {
    await serve(parseEndpoint(Deno.args));
  } catch (error) {
    console.error(`agent: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
