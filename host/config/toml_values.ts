/**
 * Typed reads of values from a parsed TOML document, each failing with a {@linkcode ConfigError}
 * that names file, line and key. Shared by every table the configuration loader reads.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { type HostPattern, parseHostPattern } from "./host_pattern.ts";
import type { PolicyRule } from "./policy.ts";

/** Where a dotted key sits (file, line when found, key). */
export type Where = (key: string) => { file: string; key: string; line?: number };

/**
 * The value as a table, or a `must be a table` error.
 *
 * @example
 * ```ts
 * import { table } from "./toml_values.ts";
 * const t = table({ a: 1 }, { file: "x.toml", key: "network" });
 * ```
 */
export function table(value: unknown, loc: ReturnType<Where>): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(loc, "must be a table");
  }
  return value as Record<string, unknown>;
}

/**
 * The value as an array of strings (absent = empty).
 *
 * @example
 * ```ts
 * import { strings } from "./toml_values.ts";
 * console.assert(strings(["a"], { file: "x.toml", key: "k" }).length === 1);
 * ```
 */
export function strings(value: unknown, loc: ReturnType<Where>): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new ConfigError(loc, "must be an array of strings");
  }
  return value;
}

/**
 * The value as a string (absent = undefined).
 *
 * @example
 * ```ts
 * import { optionalString } from "./toml_values.ts";
 * console.assert(optionalString("a", { file: "x.toml", key: "k" }) === "a");
 * ```
 */
export function optionalString(value: unknown, loc: ReturnType<Where>): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") throw new ConfigError(loc, "must be a string");
  return value;
}

/**
 * A host pattern rule with its source, e.g. `network.allow in /p/.agentbox.toml`.
 *
 * @example
 * ```ts
 * import { hostRule } from "./toml_values.ts";
 * const r = hostRule("*.example.com", "network.allow", { file: ".agentbox.toml" });
 * ```
 */
export function hostRule(
  text: string,
  key: string,
  loc: { file: string; line?: number },
): PolicyRule {
  let pattern: HostPattern;
  try {
    pattern = parseHostPattern(text);
  } catch (err) {
    throw new ConfigError({ ...loc, key }, (err as Error).message);
  }
  return { pattern, source: `${key} in ${loc.file}` };
}

/**
 * Refuse keys of `obj` not in `known` (a typo must not silently disable a setting).
 *
 * @example
 * ```ts
 * import { checkKeys } from "./toml_values.ts";
 * checkKeys({ allow: [] }, ["allow"], "network", (key) => ({ file: "x.toml", key }));
 * ```
 */
export function checkKeys(
  obj: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  where: Where,
): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new ConfigError(where(`${prefix}.${key}`), `unknown key (known: ${known.join(", ")})`);
    }
  }
}
