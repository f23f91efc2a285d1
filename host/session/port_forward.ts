/**
 * A port forward: a TCP listener on the host whose every connection is carried into the guest as
 * a stream of the agent channel (`port.open`), to a server listening on the guest's loopback.
 * Inbound only — nothing here gives the guest a way out. The forward lives as long as the sandbox
 * that opened it: closing it stops the listener and resets every connection it carries.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import type { AgentClient } from "../channel/agent_client.ts";
import type { PortMapping } from "../net/port_mapping.ts";
import { formatForwardAddress } from "../net/port_mapping.ts";

/**
 * Most connections one forward carries at once; later ones wait in the host's accept queue. The
 * agent takes at most 256 streams on its connection, commands included.
 */
export const MAX_FORWARD_CONNECTIONS = 128;

/** A forward that cannot listen (`port_unavailable`: the host port is taken or not allowed). */
export class PortForwardError extends AgentboxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, { ...options, kind: "unavailable", code: "port_unavailable" });
    this.name = "PortForwardError";
  }
}

/** A listening forward. */
export interface PortForward {
  /** Where it listens (the port the host picked when 0 was asked for). */
  readonly hostname: string;
  readonly hostPort: number;
  readonly guestPort: number;
  /** Stop listening and reset every connection it carries. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listen at `mapping.hostname`:`mapping.hostPort` and carry each connection to
 * `mapping.guestPort` of the guest behind `agent`. Throws {@linkcode PortForwardError}.
 *
 * @example
 * ```ts ignore
 * import { startPortForward } from "./port_forward.ts";
 * const forward = startPortForward(vm.agent, { hostname: "127.0.0.1", hostPort: 0, guestPort: 80 });
 * console.log(forward.hostPort);
 * await forward.close();
 * ```
 */
export function startPortForward(
  agent: Pick<AgentClient, "openPort">,
  mapping: PortMapping,
): PortForward {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: mapping.hostname, port: mapping.hostPort });
  } catch (cause) {
    const where = formatForwardAddress(mapping.hostname, mapping.hostPort);
    const why = cause instanceof Deno.errors.AddrInUse
      ? "the port is in use: pick another, or 0 for any free one"
      : cause instanceof Error
      ? cause.message
      : String(cause);
    throw new PortForwardError(
      `Cannot listen on ${where} for guest port ${mapping.guestPort}: ${why}`,
      {
        cause,
      },
    );
  }
  const connections = new Set<Deno.TcpConn>();
  const carried = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let closed = false;
  const accepting = (async () => {
    for await (const socket of listener) {
      if (closed) {
        socket.close();
        break;
      }
      connections.add(socket);
      const done = carry(agent, socket, mapping.guestPort).finally(() => {
        connections.delete(socket);
        carried.delete(done);
        slotFreed?.();
      });
      carried.add(done);
      while (connections.size >= MAX_FORWARD_CONNECTIONS && !closed) {
        await new Promise<void>((resolve) => slotFreed = resolve);
      }
    }
  })().catch(() => {});
  const address = listener.addr as Deno.NetAddr;
  return {
    hostname: address.hostname,
    hostPort: address.port,
    guestPort: mapping.guestPort,
    async close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      slotFreed?.();
      for (const socket of connections) closeQuietly(socket);
      await accepting;
      await Promise.allSettled(carried);
    },
  };
}

/** Carry one accepted connection to the guest until both sides are done. */
async function carry(
  agent: Pick<AgentClient, "openPort">,
  socket: Deno.TcpConn,
  guestPort: number,
): Promise<void> {
  socket.setNoDelay(true);
  let port;
  try {
    port = await agent.openPort(guestPort);
  } catch {
    // Nothing listens there in the guest (or the agent is gone): the client sees the connection
    // close, as a refused one would look from a proxy.
    closeQuietly(socket);
    return;
  }
  // Read with read(), not `socket.readable`: reading that to its end closes the socket, and the
  // guest's answer may still be on its way after the client half-closed.
  readSocket(socket).pipeTo(port.writable).catch(() => port.reset());
  const toHost = port.readable.pipeTo(
    new WritableStream<Uint8Array>({
      async write(chunk) {
        let at = 0;
        while (at < chunk.length) at += await socket.write(chunk.subarray(at));
      },
      async close() {
        await socket.closeWrite().catch(() => {});
      },
    }),
  ).catch(() => port.reset());
  // Once the guest's side is closed and its last bytes are written, the connection is over, even
  // when the client keeps its own side open.
  await Promise.allSettled([port.closed, toHost]);
  closeQuietly(socket);
}

function closeQuietly(socket: Deno.TcpConn): void {
  try {
    socket.close();
  } catch {
    // Already closed.
  }
}

/** The bytes `socket` receives, up to its end of input; the socket stays open for writing. */
function readSocket(socket: Deno.TcpConn): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const buffer = new Uint8Array(64 * 1024);
      const n = await socket.read(buffer);
      if (n === null) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
  });
}
