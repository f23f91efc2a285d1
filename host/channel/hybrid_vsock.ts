/**
 * Hybrid vsock, the host side of a Cloud Hypervisor (or Firecracker) vsock device: the VMM listens
 * on a unix socket; the host connects, writes `CONNECT <port>\n`, and the VMM answers
 * `OK <host port>\n` once the guest accepted on that vsock port — from then on the unix socket is
 * the vsock stream. Cloud Hypervisor's docs/vsock.md describes it (after Firecracker's
 * docs/vsock.md). The VMM closes the socket instead when nothing listens on the port yet, e.g.
 * while the guest is still booting.
 *
 * The answer line and the guest's first bytes can arrive in one read (the agent speaks first), so
 * the handshake reads until the newline and hands everything after it to the stream's reader.
 *
 * @module
 */

/** Longest answer line accepted: `OK 4294967295\n` is 14 bytes. */
const MAX_ANSWER_BYTES = 64;
const RETRY_MS = 20;

/** Why a hybrid vsock handshake failed. */
export type HybridVsockFailure = "refused" | "bad_answer" | "timeout";

/**
 * The hybrid vsock handshake failed: `refused` when the VMM closed the connection without an
 * answer (nothing listens on the guest port yet), `bad_answer` for anything but `OK <n>`,
 * `timeout` when the answer did not come in time.
 *
 * @example
 * ```ts
 * import { HybridVsockError } from "./hybrid_vsock.ts";
 * const error = new HybridVsockError("refused", "Nothing listens on vsock port 1024");
 * console.assert(error.reason === "refused");
 * ```
 */
export class HybridVsockError extends Error {
  readonly reason: HybridVsockFailure;
  constructor(reason: HybridVsockFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HybridVsockError";
    this.reason = reason;
  }
}

/** A connected vsock stream: `readable` starts with the bytes that followed the `OK` line. */
export interface HybridVsockStream {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** The host-side port the VMM reported in its `OK` line. */
  hostPort: number;
  /** Close the underlying unix socket. */
  close(): void;
}

/** Options of {@linkcode connectHybridVsock}. */
export interface HybridVsockOptions {
  /** Give up on the answer after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Abort the handshake. */
  signal?: AbortSignal;
}

/**
 * Connect to guest vsock `port` through the VMM's hybrid vsock `socket`, once. Throws
 * {@linkcode HybridVsockError}, or the `Deno.errors` of the unix connect itself.
 *
 * @example
 * ```ts
 * import { connectHybridVsock } from "./hybrid_vsock.ts";
 * import { AgentClient } from "./agent_client.ts";
 * const stream = await connectHybridVsock("/run/vm/vsock.sock", 1024);
 * const agent = await AgentClient.connect(stream);
 * ```
 */
export async function connectHybridVsock(
  socket: string,
  port: number,
  options: HybridVsockOptions = {},
): Promise<HybridVsockStream> {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff_ffff) {
    throw new RangeError(`Invalid vsock port ${port}`);
  }
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const reader = conn.readable.getReader();
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const onAbort = () => conn.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await conn.write(new TextEncoder().encode(`CONNECT ${port}\n`));
    const { line, rest } = await readAnswer(reader, port);
    const match = /^OK (\d+)$/.exec(line);
    if (!match) {
      throw new HybridVsockError(
        "bad_answer",
        `The VMM answered ${JSON.stringify(line)} to CONNECT ${port}`,
      );
    }
    return {
      readable: prepend(rest, reader),
      writable: conn.writable,
      hostPort: Number(match[1]),
      close: () => closeQuietly(conn),
    };
  } catch (error) {
    closeQuietly(conn);
    if (signal.aborted && !(error instanceof HybridVsockError && error.reason === "bad_answer")) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new HybridVsockError("timeout", `No answer to CONNECT ${port} in time`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * {@linkcode connectHybridVsock}, retried while the socket does not exist yet or the VMM refuses
 * (the guest is not listening yet), until `signal` aborts.
 *
 * @example
 * ```ts
 * import { connectHybridVsockRetrying } from "./hybrid_vsock.ts";
 * const stream = await connectHybridVsockRetrying("/run/vm/vsock.sock", 1024,
 *   AbortSignal.timeout(30_000));
 * ```
 */
export async function connectHybridVsockRetrying(
  socket: string,
  port: number,
  signal: AbortSignal,
): Promise<HybridVsockStream> {
  for (;;) {
    signal.throwIfAborted();
    try {
      return await connectHybridVsock(socket, port, { signal });
    } catch (error) {
      if (!isNotReady(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function isNotReady(error: unknown): boolean {
  return (error instanceof HybridVsockError && error.reason === "refused") ||
    error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset;
}

/** Read up to and including the first `\n`; return the line and whatever came after it. */
async function readAnswer(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  port: number,
): Promise<{ line: string; rest: Uint8Array }> {
  let buffered = new Uint8Array(0);
  for (;;) {
    const newline = buffered.indexOf(0x0a);
    if (newline >= 0) {
      const line = new TextDecoder().decode(buffered.subarray(0, newline));
      return { line, rest: buffered.slice(newline + 1) };
    }
    if (buffered.length > MAX_ANSWER_BYTES) {
      throw new HybridVsockError("bad_answer", `The VMM's answer to CONNECT ${port} is too long`);
    }
    const { value, done } = await reader.read().catch((cause) => {
      throw new HybridVsockError("refused", `The VMM closed CONNECT ${port}`, { cause });
    });
    if (done) {
      throw new HybridVsockError(
        buffered.length === 0 ? "refused" : "bad_answer",
        buffered.length === 0
          ? `The VMM closed CONNECT ${port}: nothing listens on that guest port`
          : `The VMM's answer to CONNECT ${port} ended without a newline`,
      );
    }
    const next = new Uint8Array(buffered.length + value.length);
    next.set(buffered);
    next.set(value, buffered.length);
    buffered = next;
  }
}

/** A stream of `first` (when not empty), then everything `reader` still yields. */
function prepend(
  first: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  let pending: Uint8Array | undefined = first.length > 0 ? first : undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
