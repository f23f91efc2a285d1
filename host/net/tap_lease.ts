/**
 * Which tap networks are alive: the process that made a session's tap and wall holds an
 * exclusive lock on `/run/agentbox/net/<session id>.lock` from before it makes them until after
 * it removed them. The kernel drops the lock when that process dies however it dies, so a tap
 * or wall whose lock nobody holds is an orphan (see tap_orphans.ts). The directory is fixed, not
 * under `$XDG_RUNTIME_DIR`: taps are the host's, whoever's environment made them.
 *
 * @module
 */

import { TapError } from "./tap_device.ts";
import { fileLockHeld, tryFileLock } from "../file_lock.ts";

/** Where the leases live (tap networks need root, and /run is root's). */
export const LEASE_DIR = "/run/agentbox/net";

/** A held lease: release it after the tap and the wall are gone. */
export interface TapLease {
  release(): Promise<void>;
}

/**
 * Take the lease of session `sessionId`. Throws `TapError` when another process holds it (a
 * session id is never reused, so that is a bug).
 *
 * @example
 * ```ts
 * import { takeTapLease } from "./tap_lease.ts";
 * declare const sessionId: string;
 * const lease = await takeTapLease(sessionId);
 * await lease.release();
 * ```
 */
export async function takeTapLease(sessionId: string): Promise<TapLease> {
  const path = leasePath(sessionId);
  const lock = await tryFileLock(path);
  if (!lock) throw new TapError(`The tap network of session ${sessionId} is already held`);
  return {
    async release() {
      await Deno.remove(path).catch(() => {});
      lock.release();
    },
  };
}

/**
 * Whether some live process holds session `sessionId`'s lease.
 *
 * @example
 * ```ts
 * import { tapLeaseHeld } from "./tap_lease.ts";
 * declare const sessionId: string;
 * console.log(await tapLeaseHeld(sessionId));
 * ```
 */
export async function tapLeaseHeld(sessionId: string): Promise<boolean> {
  return await fileLockHeld(leasePath(sessionId));
}

/**
 * Run `fn` while holding the lock that serialises subnet choice between sessions starting at
 * the same time (otherwise two could pick the same free /30).
 *
 * @example
 * ```ts
 * import { whileAllocating } from "./tap_lease.ts";
 * await whileAllocating(async () => {});
 * ```
 */
export async function whileAllocating<T>(fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(LEASE_DIR, { recursive: true, mode: 0o700 });
  const file = await Deno.open(`${LEASE_DIR}/allocate.lock`, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
  try {
    await file.lock(true);
    return await fn();
  } finally {
    file.close();
  }
}

function leasePath(sessionId: string): string {
  if (!/^[0-9a-f-]{36}$/.test(sessionId)) throw new RangeError(`Invalid session id ${sessionId}`);
  return `${LEASE_DIR}/${sessionId}.lock`;
}
