/**
 * Durations on the command line, as docker's `--filter until=24h` and `prune --older-than` take
 * them: a whole number and a unit, `s`, `m`, `h` or `d` (`90s`, `30m`, `24h`, `7d`).
 *
 * @module
 */

import { printable } from "../terminal_text.ts";
import { UsageError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds in `value` (option `--NAME` of `command`), or undefined when absent.
 *
 * @example
 * ```ts
 * import { durationOption } from "./duration.ts";
 * console.assert(durationOption("prune", "older-than", "24h") === 86_400_000);
 * console.assert(durationOption("prune", "older-than", undefined) === undefined);
 * ```
 */
export function durationOption(command: string, name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === "string" ? /^(\d{1,9})([smhd])$/.exec(value) : null;
  if (!match) {
    throw new UsageError(
      `--${name} takes a number and a unit (s, m, h or d), such as 24h or 7d, got "${
        printable(String(value))
      }": see \`agentbox ${command} --help\``,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2]];
}
