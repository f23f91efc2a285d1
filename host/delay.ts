/**
 * A promise that resolves to `undefined` after `ms` milliseconds, for racing against an event
 * that may not come.
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * const winner = await Promise.race([fetch("http://127.0.0.1:1"), delay(100)]).catch(() => 0);
 * ```
 *
 * @module
 */

/** Resolve with `undefined` after `ms` milliseconds. */
export function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}
