/**
 * How a long build step reports where it is, for a progress bar.
 *
 * @module
 */

/**
 * Progress within one build step: what is happening, and the fraction done when it is known.
 *
 * @example
 * ```ts
 * import type { StepProgress } from "./progress.ts";
 * const progress: StepProgress = { label: "unpacking 45/120", fraction: 45 / 120 };
 * ```
 */
export interface StepProgress {
  label: string;
  /** 0..1, or undefined when the step cannot tell. */
  fraction?: number;
}
