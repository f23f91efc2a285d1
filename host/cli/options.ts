/**
 * The option vocabulary shared by every subcommand, parsed with `node:util` `parseArgs` (JSR's
 * `@std/cli` is unreachable from our build machines; see docs/cli.md). Unknown options and bad
 * values become {@linkcode UsageError}s that name the command's `--help`.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flags and the positional arguments (everything after `--` included). */
export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/**
 * Parse `args` for `command`. Options stop at the first positional, so a guest command's own
 * flags are never taken as agentbox's.
 *
 * @example
 * ```ts
 * import { parseCommandArgs } from "./options.ts";
 * const { values, positionals } = parseCommandArgs("exec", ["--cpus", "2", "--", "ls", "-l"], {
 *   cpus: { type: "string" },
 * });
 * console.assert(values.cpus === "2" && positionals[1] === "-l");
 * ```
 */
export function parseCommandArgs(command: string, args: string[], options: Options): Parsed {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const rest = split < 0 ? [] : args.slice(split + 1);
  try {
    const parsed = parseArgs({
      args: own,
      options: { help: { type: "boolean", short: "h" }, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: parsed.values, positionals: [...parsed.positionals, ...rest] };
  } catch (cause) {
    const detail = (cause as Error).message.split("\n")[0].replace(/\.$/, "");
    throw new UsageError(`${detail}: see \`agentbox ${command} --help\``, { cause });
  }
}

/** Read a whole-number option in `min..max`, or `fallback` when absent. */
export function positiveInt(
  command: string,
  name: string,
  value: unknown,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
  min = 1,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(
      `--${name} must be a whole number between ${min} and ${max}, got "${value}": ` +
        `see \`agentbox ${command} --help\``,
    );
  }
  return n;
}

/** Parse repeated `--env K=V` (or `--env K` to pass the host's value) into a map. */
export function envOption(command: string, values: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (values ?? []) as string[]) {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(
        `--env "${entry}" is not NAME=VALUE: see \`agentbox ${command} --help\``,
      );
    }
    const value = eq < 0 ? Deno.env.get(key) : entry.slice(eq + 1);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/**
 * The project directory a command acts on: `--share DIR` when given, else the current directory,
 * as an absolute real path. A directory that does not exist is a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { projectOption } from "./options.ts";
 * console.log(await projectOption("diff", undefined)); // the cwd
 * ```
 */
export async function projectOption(command: string, share: unknown): Promise<string> {
  const dir = typeof share === "string" ? share : Deno.cwd();
  try {
    const real = await Deno.realPath(dir);
    if ((await Deno.stat(real)).isDirectory) return real;
  } catch {
    // Reported below.
  }
  throw new UsageError(
    `--share ${JSON.stringify(dir)} is not a directory: see \`agentbox ${command} --help\``,
  );
}
