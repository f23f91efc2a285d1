/**
 * Who may use a session's proxy, and how many connections at once. The listeners are on the
 * host's loopback (user network) or the tap's gateway address (reachable through `lo`): without
 * a check any local process — another user's included — could send requests with the session's
 * policy and have its credentials injected. So a connection is served only if it comes from the
 * session's own guest:
 *
 * - user network: the relay QEMU starts for each guest connection sends the session's relay key
 *   first (read from a 0600 file in the private runtime directory); anything else is closed
 *   before a byte of it is parsed.
 * - tap network: the connection's source address is the guest's (the host's replies to that
 *   address go out through the tap, so no local process can complete a handshake with it).
 *
 * Admitted connections then share the session's {@linkcode ConnectionBudget}: on the user network
 * every guest connection is a host process (the relay), so their number is capped, and a
 * connection beyond the cap is refused with a `503` that says why.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import type { ByteReader } from "./byte_reader.ts";
import { withDeadline } from "./deadline.ts";
import { ProxyError } from "./proxy_error.ts";

/** How a listener tells the session's guest from other local processes. */
export type Admission =
  /** The first bytes of every connection must be `key` (the user network's relay sends them). */
  | { kind: "relay_key"; key: Uint8Array }
  /** The connection must come from `address` (the guest's address on the tap). */
  | { kind: "source"; address: string };

/** Time allowed for the relay's key; the relay sends it as soon as it is connected. */
const KEY_TIMEOUT_MS = 5_000;

/**
 * Whether `conn` may be served under `admission`; the key, when one is expected, is consumed from
 * `reader`. A stranger gets `false` (close it without a word: nothing about the session leaks).
 *
 * @example
 * ```ts ignore
 * import { admits } from "./admission.ts";
 * if (!(await admits({ kind: "source", address: "10.213.0.2" }, conn, reader))) conn.close();
 * ```
 */
export async function admits(
  admission: Admission,
  conn: Deno.Conn,
  reader: ByteReader,
): Promise<boolean> {
  if (admission.kind === "source") {
    return (conn.remoteAddr as Deno.NetAddr).hostname === admission.address;
  }
  let presented: Uint8Array;
  try {
    presented = await withDeadline(
      reader.readExact(admission.key.length),
      KEY_TIMEOUT_MS,
      () => {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      },
      "waiting for the relay's key",
    );
  } catch (error) {
    if (error instanceof ProxyError) return false;
    throw error;
  }
  return timingSafeEqual(presented, admission.key);
}

/**
 * The most connections a session's guest may have open through its proxies at once, shared by
 * the session's listeners.
 *
 * @example
 * ```ts
 * import { ConnectionBudget } from "./admission.ts";
 * const budget = new ConnectionBudget(2);
 * console.assert(budget.take() && budget.take() && !budget.take());
 * budget.release();
 * ```
 */
export class ConnectionBudget {
  readonly max: number;
  #open = 0;
  #lastWarning = -Infinity;

  constructor(max: number) {
    this.max = max;
  }

  /** Connections counted now. */
  get open(): number {
    return this.#open;
  }

  /** Count one more connection; `false` (nothing counted) when the budget is spent. */
  take(): boolean {
    if (this.#open >= this.max) return false;
    this.#open++;
    return true;
  }

  /** Give back a connection counted by {@linkcode take}. */
  release(): void {
    this.#open--;
  }

  /** Whether to tell the user about a refusal now (at most once a minute). */
  shouldWarn(now = Date.now()): boolean {
    if (now - this.#lastWarning < 60_000) return false;
    this.#lastWarning = now;
    return true;
  }
}

/** How long a refused connection is read from before it is closed (so the 503 is not reset). */
const REFUSAL_DRAIN_MS = 200;

/**
 * Answer a connection beyond `budget` with `503` and a line that says why, then close it (after
 * briefly draining what the client sent, so that the close does not reset the answer away).
 *
 * @example
 * ```ts ignore
 * import { ConnectionBudget, refuseOverBudget } from "./admission.ts";
 * if (!budget.take()) return await refuseOverBudget(conn, reader, budget);
 * ```
 */
export async function refuseOverBudget(
  conn: Deno.Conn,
  reader: ByteReader,
  budget: ConnectionBudget,
): Promise<void> {
  const body = `agentbox: refused: this sandbox already has ${budget.max} connections open ` +
    "through its proxy, the most it may have; close some and retry\n";
  const head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\nConnection: close\r\n\r\n`;
  try {
    await conn.write(new TextEncoder().encode(head + body));
    await conn.closeWrite();
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    }, REFUSAL_DRAIN_MS);
    try {
      for (let drained = 0; drained < 64 * 1024;) {
        const chunk = await reader.readSome();
        if (chunk === null) break;
        drained += chunk.length;
      }
    } finally {
      clearTimeout(timer);
    }
  } catch {
    // The client went away first: nothing more to say.
  }
}
