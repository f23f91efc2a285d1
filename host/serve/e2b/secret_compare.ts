/**
 * Comparing a presented secret (a token) with the expected one in time that does not depend on
 * where they first differ.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";

/**
 * Whether `presented` equals `expected`, compared in constant time for equal lengths.
 *
 * @example
 * ```ts
 * import { sameSecret } from "./secret_compare.ts";
 * console.assert(sameSecret("abc", "abc") && !sameSecret("abd", "abc"));
 * ```
 */
export function sameSecret(presented: string, expected: string): boolean {
  const a = new TextEncoder().encode(presented);
  const b = new TextEncoder().encode(expected);
  return a.length === b.length && b.length > 0 && timingSafeEqual(a, b);
}
