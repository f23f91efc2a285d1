/**
 * Orphans of crashed sessions: taps and walls whose lease nobody holds (see tap_lease.ts).
 * Removed by the next tap session that starts and by `agentbox doctor --fix`; only agentbox's
 * own (tap_device.ts and nft_wall.ts recognise them by name) are ever looked at.
 *
 * @module
 */

import { listWalls, removeWall } from "./nft_wall.ts";
import { tapUnavailableReason } from "./net_backend.ts";
import { deleteTap, listTaps, tapName } from "./tap_device.ts";
import { tapLeaseHeld } from "./tap_lease.ts";

/** Orphans found (and, when asked, removed): session ids of walls, names of taps. */
export interface TapOrphans {
  walls: string[];
  taps: string[];
}

/**
 * Find the orphaned taps and walls of this network namespace; `remove` deletes them too.
 *
 * @example
 * ```ts
 * import { sweepTapOrphans } from "./tap_orphans.ts";
 * console.log(await sweepTapOrphans({ remove: true }));
 * ```
 */
export async function sweepTapOrphans(options: { remove: boolean }): Promise<TapOrphans> {
  const orphans: TapOrphans = { walls: [], taps: [] };
  for (const sessionId of await listWalls()) {
    if (await tapLeaseHeld(sessionId)) continue;
    if (options.remove) await removeWall(sessionId);
    orphans.walls.push(sessionId);
  }
  for (const tap of await listTaps()) {
    if (await tapLeaseHeld(tap.sessionId)) continue;
    if (options.remove) await deleteTap(tap.ifname);
    orphans.taps.push(tap.ifname);
  }
  return orphans;
}

/**
 * Remove session `sessionId`'s tap and wall if it left them behind (its lease is free), e.g.
 * after its owner was killed. Does nothing where tap networks cannot exist, and never throws:
 * what stays behind is swept by the next tap session or `agentbox doctor --fix`.
 *
 * @example
 * ```ts
 * import { removeTapLeftovers } from "./tap_orphans.ts";
 * declare const sessionId: string;
 * await removeTapLeftovers(sessionId);
 * ```
 */
export async function removeTapLeftovers(sessionId: string): Promise<void> {
  if ((await tapUnavailableReason()) !== undefined) return;
  try {
    if (await tapLeaseHeld(sessionId)) return;
    await removeWall(sessionId);
    await deleteTap(tapName(sessionId));
  } catch {
    // Left for the next sweep (see above).
  }
}
