/**
 * What the server keeps about the sandboxes it started beyond what every session has: when each
 * one expires (its `timeoutSec`), so it can be stopped then and the deadline moved. The
 * sandboxes themselves are ordinary sessions (host/api/sessions.ts); this holds only timers.
 *
 * @module
 */

import type { ApiContext } from "../api/context.ts";
import { stopSessions } from "../api/sessions.ts";

/** How long an expired sandbox's commands get between SIGTERM and SIGKILL. */
const EXPIRY_GRACE_MS = 2000;

/** The server's timers of its sandboxes. */
export class SandboxRegistry {
  #ctx: ApiContext;
  #expiry = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(ctx: ApiContext) {
    this.#ctx = ctx;
  }

  /** When sandbox `id` expires (ms since the epoch), or null. */
  expiresAt(id: string): number | null {
    return this.#expiry.get(id)?.at ?? null;
  }

  /**
   * Stop sandbox `id` at `at` (ms since the epoch); null: never. Replaces an earlier deadline.
   *
   * @example
   * ```ts ignore
   * registry.expireAt(id, Date.now() + 60_000);
   * ```
   */
  expireAt(id: string, at: number | null): void {
    const old = this.#expiry.get(id);
    if (old) clearTimeout(old.timer);
    this.#expiry.delete(id);
    if (at === null) return;
    // setTimeout holds at most 2^31-1 ms; a later deadline is re-armed when that one fires.
    const wait = Math.min(Math.max(0, at - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      if (Date.now() < at) return this.expireAt(id, at);
      this.#expiry.delete(id);
      stopSessions(this.#ctx, [id], { kill: false, timeoutMs: 120_000, graceMs: EXPIRY_GRACE_MS })
        .catch((error) =>
          this.#ctx.onEvent({
            type: "warning",
            message: `Could not stop expired sandbox ${id}: ${(error as Error).message}`,
          })
        );
    }, wait);
    this.#expiry.set(id, { at, timer });
  }

  /** Forget sandbox `id` (stopped or removed). */
  forget(id: string): void {
    this.expireAt(id, null);
  }

  /** Clear every timer (the server is stopping; its sandboxes keep running). */
  close(): void {
    for (const { timer } of this.#expiry.values()) clearTimeout(timer);
    this.#expiry.clear();
  }
}
