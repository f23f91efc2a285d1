/**
 * The agentbox guest agent. Started by the image's init, it serves the wire protocol on vsock
 * when the VM has it, else on the virtio-serial port `agentbox`; tests run it on a unix socket.
 *
 * Usage: `agent.js (--vsock PORT | --stdio | --unix PATH) [--dns ADDRESS]`
 *
 * `--dns ADDRESS` also serves the guest's DNS stub (see dns_stub.ts), answering every name with
 * ADDRESS, the proxy's guest-side address.
 *
 * `--stdio` is for the virtio-serial port, which the init opens once and hands over as stdin and
 * stdout: a virtio port can be opened only once, and Deno serialises reads and writes on a single
 * open file, so a pending read would block every write. Two handles on one open file do not.
 * In that mode nothing else may ever write to stdout: diagnostics go to stderr.
 *
 * @module
 */

import { serveDnsStub } from "./dns_stub.ts";
import { applyHostFacts } from "./host_facts.ts";
import { serveConnection, type ServeOptions } from "./session.ts";

/** Where the agent listens, from its command line. */
export type Endpoint =
  | { kind: "vsock"; port: number }
  | { kind: "stdio" }
  | { kind: "unix"; path: string };

/** The agent's command line, parsed. */
export interface AgentArgs {
  endpoint: Endpoint;
  /** Serve the DNS stub answering with this IPv4 address. */
  dns?: string;
}

const USAGE = "usage: agent (--vsock PORT | --stdio | --unix PATH) [--dns ADDRESS]";

/** Parse the agent's command line. */
export function parseAgentArgs(args: string[]): AgentArgs {
  const dnsAt = args.indexOf("--dns");
  if (dnsAt === -1) return { endpoint: parseEndpoint(args) };
  const dns = args[dnsAt + 1];
  if (dns === undefined || dnsAt !== args.length - 2) throw new Error(USAGE);
  return { endpoint: parseEndpoint(args.slice(0, dnsAt)), dns };
}

/** Parse the endpoint part of the agent's command line. */
export function parseEndpoint(args: string[]): Endpoint {
  const [flag, value, extra] = args;
  if (extra !== undefined) throw new Error(USAGE);
  if (flag === "--vsock" && /^\d+$/.test(value ?? "")) return { kind: "vsock", port: +value };
  if (flag === "--stdio" && value === undefined) return { kind: "stdio" };
  if (flag === "--unix" && value) return { kind: "unix", path: value };
  throw new Error(USAGE);
}

/**
 * Serve `endpoint` until the process is killed. Inside a VM (vsock, stdio) the host's hello sets
 * the guest's clock and reseeds its random generator (host_facts.ts); on a unix socket, where
 * the tests run the agent on the host itself, it never does.
 */
export async function serve(endpoint: Endpoint): Promise<void> {
  const onWarning = (message: string) => console.error(`agent: ${message}`);
  const options: ServeOptions = endpoint.kind === "unix"
    ? { onWarning }
    : { onHostHello: applyHostFacts, onWarning };
  if (endpoint.kind === "stdio") {
    // The port stays open for the VM's life: bytes the host writes while it is closed are lost.
    await serveConnection(
      { readable: Deno.stdin.readable, writable: Deno.stdout.writable },
      options,
    );
    return;
  }
  const listener = endpoint.kind === "unix"
    ? Deno.listen({ transport: "unix", path: endpoint.path })
    : Deno.listen({ transport: "vsock", cid: -1, port: endpoint.port });
  for await (const conn of listener) {
    serveConnection(conn, options).catch((e) => console.error(`agent: connection failed: ${e}`));
  }
}

if (import.meta.main) {
  try {
    const { endpoint, dns } = parseAgentArgs(Deno.args);
    if (dns !== undefined) serveDnsStub({ address: dns });
    await serve(endpoint);
  } catch (error) {
    console.error(`agent: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
