/**
 * The usage of one AI call, normalised across providers, and the checks every value from a
 * response passes before it is kept: counts are whole numbers in a sane range, model names are
 * short printable identifiers. Anything else is dropped, never stored.
 *
 * Normalised meaning (docs/proxy.md, "AI usage"):
 * - `inputTokens`: every prompt token the model read, cached or not;
 * - `cacheReadTokens` / `cacheCreationTokens`: how many of those came from / went into a cache;
 * - `outputTokens`: every generated token, reasoning ("thinking") included.
 *
 * @module
 */

/** Token counts and model of one call; a field is absent when the response did not say. */
export interface TokenUsage {
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheCreationTokens?: number;
}

/** Largest token count accepted from a response (keeps sums far from 64-bit overflow). */
export const MAX_TOKENS = 1_000_000_000_000;

const MODEL = /^[\x21-\x7e]{1,128}$/;

/**
 * `value` as a token count, or `undefined` unless it is a whole number in `0..MAX_TOKENS`.
 *
 * @example
 * ```ts
 * import { tokenCount } from "./token_usage.ts";
 * console.assert(tokenCount(12) === 12 && tokenCount("12") === undefined && tokenCount(-1) === undefined);
 * ```
 */
export function tokenCount(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= MAX_TOKENS
    ? value
    : undefined;
}

/**
 * `value` as a model name: 1–128 printable ASCII characters without spaces, else `undefined`.
 *
 * @example
 * ```ts
 * import { modelName } from "./token_usage.ts";
 * console.assert(modelName("claude-sonnet-4-5") === "claude-sonnet-4-5");
 * console.assert(modelName("two words") === undefined);
 * ```
 */
export function modelName(value: unknown): string | undefined {
  return typeof value === "string" && MODEL.test(value) ? value : undefined;
}

/**
 * Sum of the counts present; `undefined` when none is.
 *
 * @example
 * ```ts
 * import { sumCounts } from "./token_usage.ts";
 * console.assert(sumCounts(3, undefined, 4) === 7 && sumCounts(undefined) === undefined);
 * ```
 */
export function sumCounts(...counts: (number | undefined)[]): number | undefined {
  const present = counts.filter((n): n is number => n !== undefined);
  return present.length === 0 ? undefined : Math.min(MAX_TOKENS, present.reduce((a, b) => a + b));
}

/**
 * A property of a JSON value if the value is an object, else `undefined`.
 *
 * @example
 * ```ts
 * import { field } from "./token_usage.ts";
 * console.assert(field({ usage: { n: 1 } }, "usage", "n") === 1 && field(null, "usage") === undefined);
 * ```
 */
export function field(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

/**
 * True when `usage` holds at least one token count.
 *
 * @example
 * ```ts
 * import { hasTokens } from "./token_usage.ts";
 * console.assert(!hasTokens({ model: "m" }) && hasTokens({ outputTokens: 0 }));
 * ```
 */
export function hasTokens(usage: TokenUsage): boolean {
  return usage.inputTokens !== undefined || usage.outputTokens !== undefined ||
    usage.cacheReadTokens !== undefined || usage.cacheCreationTokens !== undefined;
}
