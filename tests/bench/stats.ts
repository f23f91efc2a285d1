/** Small statistics for benchmark scripts. */

/**
 * The median of `values`.
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * console.assert(median([3, 1, 2]) === 2);
 * ```
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The `q` quantile (0–1) of ascending `sorted` values (nearest rank).
 *
 * @example
 * ```ts
 * import { percentile } from "./stats.ts";
 * console.assert(percentile([1, 2, 3, 4], 0.5) === 3);
 * ```
 */
export function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
