/**
 * Open the byte stream to a booting guest's agent: the QEMU virtio-serial chardev socket, or a
 * vsock port. Both appear some time after QEMU starts, so connecting retries until `signal` aborts.
 *
 * @module
 */

const RETRY_MS = 10;

/** Where the agent's channel is reachable from the host. */
export type ChannelAddress =
  | { kind: "serial"; socket: string }
  | { kind: "vsock"; cid: number; port: number };

/**
 * Connect to `address`, retrying while the endpoint does not exist yet.
 *
 * @example
 * ```ts
 * import { connectChannel } from "./connect.ts";
 * const conn = await connectChannel({ kind: "serial", socket: "/run/vm/agent.sock" },
 *   AbortSignal.timeout(30_000));
 * ```
 */
export async function connectChannel(
  address: ChannelAddress,
  signal: AbortSignal,
): Promise<Deno.Conn> {
  for (;;) {
    signal.throwIfAborted();
    try {
      return address.kind === "serial"
        ? await Deno.connect({ transport: "unix", path: address.socket })
        : await Deno.connect({ transport: "vsock", cid: address.cid, port: address.port });
    } catch (error) {
      if (!isNotReady(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function isNotReady(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset;
}
