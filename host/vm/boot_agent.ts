/**
 * Reach a booting VM's agent, whichever VMM runs it: connect to its channel, greet, and turn every
 * way this can fail (timeout, the VMM's death, a refused channel) into one {@linkcode VmError}
 * with the guest console's last lines.
 *
 * @module
 */

import type { Duplex } from "@agentbox/protocol";
import { AgentClient } from "../channel/agent_client.ts";
import { delay } from "../delay.ts";
import { VmError } from "./errors.ts";
import type { VmExit } from "./running_vm.ts";

/** How long the VMM's exit may lag behind its channel closing, to explain a failure. */
const EXIT_GRACE_MS = 1000;

/** Options of {@linkcode bootAgent}. */
export interface BootAgentOptions<C extends Duplex> {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Settles when the VMM exits: a boot-time exit fails the boot at once. */
  exited: Promise<VmExit>;
  /** The guest console's last lines, for the error. */
  consoleTail: () => Promise<string>;
  /**
   * Greet the agent over the connected channel; default: wait for the agent's hello (a booting
   * agent speaks first). A restored VM greets differently (see qemu/snapshot_state.ts).
   */
  greet?: (conn: C, signal: AbortSignal) => Promise<AgentClient>;
}

/**
 * Connect with `connect` (retrying is its business) and greet the agent, within
 * `options.timeoutMs`. Throws {@linkcode VmError}.
 *
 * @example
 * ```ts
 * import { bootAgent } from "./boot_agent.ts";
 * import { connectChannel } from "../channel/connect.ts";
 * import type { VmExit } from "./running_vm.ts";
 * declare const exited: Promise<VmExit>;
 * declare const consoleTail: () => Promise<string>;
 * const agent = await bootAgent(
 *   (signal) => connectChannel({ kind: "serial", socket: "/run/vm/agent.sock" }, signal),
 *   { timeoutMs: 60_000, exited, consoleTail },
 * );
 * ```
 */
export async function bootAgent<C extends Duplex>(
  connect: (signal: AbortSignal) => Promise<C>,
  options: BootAgentOptions<C>,
): Promise<AgentClient> {
  const { timeoutMs, exited, consoleTail } = options;
  const greet = options.greet ??
    ((conn: C, signal: AbortSignal) => AgentClient.connect(conn, { signal }));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const exitedDuringBoot = exited.then((exit) => {
    abort.abort();
    return exit;
  });
  try {
    const conn = await connect(abort.signal);
    return await abortable(greet(conn, abort.signal), abort.signal);
  } catch (cause) {
    const timedOut = abort.signal.aborted;
    // The channel usually closes a moment before the VMM is seen to exit: give the exit a
    // chance to explain the failure, since that is the fact the user needs.
    const died = await Promise.race([exitedDuringBoot, delay(EXIT_GRACE_MS)]);
    const tail = await consoleTail();
    if (died) {
      const why = died.stderr.split("\n")[0] || `exit status ${died.code}`;
      throw new VmError(`The VM stopped while booting: ${why}`, { cause, consoleTail: tail });
    }
    if (timedOut) {
      const seconds = Math.round(timeoutMs / 1000);
      throw new VmError(`The VM's agent did not answer within ${seconds} s`, {
        cause,
        consoleTail: tail,
      });
    }
    throw new VmError(`Cannot reach the VM's agent: ${(cause as Error).message}`, {
      cause,
      consoleTail: tail,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      signal.throwIfAborted();
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }),
  ]);
}
