/**
 * The global options every command takes (`-v/--verbose`, `-q/--quiet`, `--color WHEN`) and the
 * settings they leave for the rest of the CLI: how much to say on stderr and whether to colour.
 * `agentbox -q exec …` and `agentbox exec -q …` mean the same; `main.ts` reads the first form,
 * `parseCommandArgs` the second.
 *
 * @module
 */

import { UsageError } from "../api/errors.ts";

/** When to colour output: always, never, or when the stream is a terminal and NO_COLOR is unset. */
export type ColorWhen = "auto" | "always" | "never";

/** The choices of `--color`, in help order. */
export const COLOR_CHOICES: readonly ColorWhen[] = ["auto", "always", "never"];

/** What the global options set; read by the renderers. */
export interface OutputSettings {
  /** Print the causes of an error (`--verbose`). */
  verbose: boolean;
  /** Print only errors and what was asked for: no warnings, progress or hints (`--quiet`). */
  quiet: boolean;
  color: ColorWhen;
}

/** The CLI's settings for this process (one command runs per process). */
export const output: OutputSettings = { verbose: false, quiet: false, color: "auto" };

/** `parseArgs` specs of the global options. */
export const GLOBAL_OPTIONS = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  color: { type: "string" },
} as const;

/** Help lines of the global options, as the top-level help shows them. */
export const GLOBAL_HELP = `  -v, --verbose   print the causes of an error
  -q, --quiet     print only errors and what was asked for (no warnings, progress or hints)
  --color WHEN    colour the output: auto (default: on a terminal, unless NO_COLOR is set),
                  always or never`;

/**
 * Record the global options found in parsed `values` in {@linkcode output}.
 *
 * @example
 * ```ts
 * import { applyGlobalOptions, output } from "./output_settings.ts";
 * applyGlobalOptions({ quiet: true, color: "never" });
 * console.assert(output.quiet && output.color === "never");
 * ```
 */
export function applyGlobalOptions(values: Record<string, unknown>): void {
  if (values.verbose === true) output.verbose = true;
  if (values.quiet === true) output.quiet = true;
  if (values.color !== undefined) output.color = colorChoice(values.color);
  if (output.verbose && output.quiet) {
    throw new UsageError("--verbose and --quiet cannot be used together");
  }
}

function colorChoice(value: unknown): ColorWhen {
  if (!COLOR_CHOICES.includes(value as ColorWhen)) {
    throw new UsageError(
      `--color must be auto, always or never, got ${JSON.stringify(String(value).slice(0, 40))}`,
    );
  }
  return value as ColorWhen;
}

/**
 * Whether to colour what goes to `stream` under the current `--color`: `auto` colours a terminal
 * unless `NO_COLOR` is set to anything but the empty string (no-color.org).
 *
 * @example
 * ```ts
 * import { useColor } from "./output_settings.ts";
 * console.log(useColor(Deno.stdout));
 * ```
 */
export function useColor(
  stream: { isTerminal(): boolean },
  settings: Pick<OutputSettings, "color"> = output,
): boolean {
  if (settings.color === "always") return true;
  if (settings.color === "never") return false;
  return stream.isTerminal() && !Deno.env.get("NO_COLOR");
}
