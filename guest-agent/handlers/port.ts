/**
 * `port.open`: connect to a TCP port on the guest's loopback and carry the connection's bytes on
 * the stream — fd 0 from the host to the guest's server, fd 1 back — until both directions have
 * ended, then `port.closed`. Inbound only: the guest's server is reached from the host, nothing
 * in the guest reaches out.
 *
 * @module
 */

import type { PortOpen, StreamPort } from "@agentbox/protocol";
import { MAX_DATA_CHUNK_BYTES, ProtocolError } from "@agentbox/protocol";

/** A forwarded connection being carried. */
export interface OpenPort {
  /** Reset the connection (the host gave up on it, or went away). */
  close(): void;
  /** Settles once `port.closed` was sent (or could not be). */
  done: Promise<void>;
}

/**
 * Connect to `request.port` on 127.0.0.1 and answer `port.opened`; throws `connect_failed` when
 * nothing listens there.
 */
export async function openPort(conn: StreamPort, request: PortOpen): Promise<OpenPort> {
  let socket: Deno.TcpConn;
  try {
    socket = await Deno.connect({ hostname: "127.0.0.1", port: request.port });
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ProtocolError(
      "connect_failed",
      `Cannot connect to port ${request.port} in the guest: ${detail}`,
    );
  }
  socket.setNoDelay(true);
  const stream = request.stream;
  const inbound = conn.receive(stream, 0);
  const outbound = conn.transmit(stream, 1);
  await conn.send({ type: "port.opened", stream });
  // A direction that fails leaves nothing for the other: the connection is reset, and both pipes
  // are stopped, so that `port.closed` always follows (the stream's slot is freed).
  const stop = new AbortController();
  let closed = false;
  const close = () => {
    stop.abort();
    if (closed) return;
    closed = true;
    try {
      socket.close();
    } catch {
      // Already closed.
    }
  };
  const resetOnFailure = (error: unknown) => {
    close();
    throw error;
  };
  const toGuest = inbound.pipeTo(
    new WritableStream<Uint8Array>({
      async write(chunk) {
        let at = 0;
        while (at < chunk.length) at += await socket.write(chunk.subarray(at));
      },
      async close() {
        await socket.closeWrite().catch(() => {});
      },
    }),
    { signal: stop.signal },
  ).catch(resetOnFailure);
  // Read with read(), not `socket.readable`: reading that to its end closes the socket, and the
  // host's side may still have bytes to send after the server half-closed.
  const toHost = readSocket(socket).pipeTo(outbound, { signal: stop.signal }).catch(resetOnFailure);
  const done = Promise.allSettled([toGuest, toHost]).then(async () => {
    close();
    conn.forget(stream);
    await conn.send({ type: "port.closed", stream }).catch(() => {});
  });
  return { close, done };
}

/**
 * The bytes `socket` receives, up to its end of input; the socket stays open for writing. Reads
 * of up to a whole `stream.data` frame: under emulation each frame costs the agent's JavaScript
 * more than its bytes do.
 */
function readSocket(socket: Deno.TcpConn): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const buffer = new Uint8Array(MAX_DATA_CHUNK_BYTES);
      const n = await socket.read(buffer);
      if (n === null) controller.close();
      else controller.enqueue(buffer.subarray(0, n));
    },
  });
}
