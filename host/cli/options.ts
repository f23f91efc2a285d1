/**
 * The option vocabulary shared by every subcommand, tokenised by `node:util` `parseArgs` (JSR's
 * `@std/cli` is unreachable from our build machines; see docs/cli.md) behind one helper that
 * writes its own messages: an unknown option names the closest known one ("did you mean"), an
 * option after a guest command explains the missing `--`, a value that starts with `-` (`--timeout
 * -1`) is taken as the value, and every message is one line that names the command's `--help`.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { printable } from "../terminal_text.ts";
import { editDistance } from "../edit_distance.ts";
import { UsageError } from "./errors.ts";
import { applyGlobalOptions, GLOBAL_OPTIONS } from "./output_settings.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parsed flags and the positional arguments (everything after `--` included). */
export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** How a command reads its positional arguments. */
export interface ParseSettings {
  /**
   * The positionals are a command for the guest (`exec`, `run`): an option after the first one is
   * the guest command's, given without `--`, and is refused with the corrected command line.
   */
  guestCommand?: boolean;
}

/**
 * Parse `args` for `command`. The global options (`-h`, `-v`, `-q`, `--color`) are accepted
 * everywhere and recorded in `output_settings.ts`. Everything after `--` is positional, so a
 * guest command's own flags are never taken as agentbox's.
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
export function parseCommandArgs(
  command: string,
  args: string[],
  options: Options,
  settings: ParseSettings = {},
): Parsed {
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const rest = split < 0 ? [] : args.slice(split + 1);
  const spec: Options = { ...options, ...GLOBAL_OPTIONS };
  const help = `see \`agentbox ${command} --help\``;
  // Lenient mode only tokenises; every check is below, with our own words.
  const { values, positionals, tokens } = parseArgs({
    args: own,
    options: spec,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  // The global options count even when another option is wrong (`ps --bogus --color=never`
  // reports without colour); a wrong global option is reported after the checks below.
  let globalError: unknown;
  try {
    if (values.help !== true) applyGlobalOptions(values);
  } catch (error) {
    globalError = error;
  }
  let firstPositional: number | undefined;
  for (const token of tokens) {
    if (token.kind === "positional") {
      firstPositional ??= token.index;
      continue;
    }
    if (token.kind !== "option") continue;
    const shown = printable(token.rawName);
    if (settings.guestCommand && token.name === "verbose" && looksLikeVolume(tokens, token.index)) {
      throw new UsageError(
        `-v is --verbose in agentbox, not a docker volume: share a directory with --share DIR ` +
          `(the command sees it at /workspace): ${help}`,
      );
    }
    if (settings.guestCommand && firstPositional !== undefined) {
      throw new UsageError(
        missingSeparator(command, own, firstPositional, rest, own[token.index]),
      );
    }
    const known = Object.hasOwn(spec, token.name) ? spec[token.name] : undefined;
    if (!known || (token.rawName.startsWith("--") && token.name !== token.rawName.slice(2))) {
      throw new UsageError(`Unknown option ${shown}${suggestion(token.rawName, spec)}: ${help}`);
    }
    if (known.type === "string" && token.value === undefined) {
      throw new UsageError(`${optionName(token.name, known)} needs a value: ${help}`);
    }
    if (known.type === "boolean" && token.value !== undefined) {
      throw new UsageError(`--${token.name} takes no value: ${help}`);
    }
  }
  if (globalError) throw globalError;
  return { values, positionals: [...positionals, ...rest] };
}

/** `-v /src:/app`: docker's volume syntax, right after `-v`. */
function looksLikeVolume(tokens: { kind: string; index: number; value?: string }[], index: number) {
  const next = tokens.find((t) => t.kind === "positional" && t.index === index + 1);
  return next?.value !== undefined && /^[^:\s]*:\/[^:]*(:(ro|rw|z|Z))?$/.test(next.value);
}

function optionName(name: string, option: Options[string]): string {
  return option.short ? `-${option.short}/--${name}` : `--${name}`;
}

/** `exec ls -la`: the corrected command line, with `--` before the guest command. */
function missingSeparator(
  command: string,
  own: string[],
  first: number,
  rest: string[],
  option: string,
): string {
  const fixed = [
    "agentbox",
    ...command.split(" "),
    ...own.slice(0, first),
    "--",
    ...own.slice(first),
    ...(rest.length > 0 ? ["--", ...rest] : []),
  ];
  return `${shellQuote(option)} comes after the command ${
    shellQuote(own[first])
  }, so agentbox took it for one of its own options: put -- before the command: \`${
    fixed.map(shellQuote).join(" ")
  }\``;
}

/**
 * `arg` as a POSIX shell word, with control characters escaped.
 *
 * @example
 * ```ts
 * import { shellQuote } from "./options.ts";
 * console.assert(shellQuote("it's") === `'it'\\''s'`);
 * ```
 */
export function shellQuote(arg: string): string {
  const text = printable(arg);
  if (/^[\w@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** ", did you mean --image?" for the known long option closest to `raw`, or "". */
function suggestion(raw: string, spec: Options): string {
  if (!raw.startsWith("--")) return "";
  const wanted = raw.slice(2).split("=")[0];
  let best: { name: string; distance: number } | undefined;
  for (const name of Object.keys(spec)) {
    const distance = name.startsWith(wanted) && wanted.length >= 2 ? 1 : editDistance(wanted, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  const limit = Math.max(1, Math.min(3, Math.floor(wanted.length / 3)));
  return best && best.distance <= limit ? ` (did you mean --${best.name}?)` : "";
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
  return envEntries(command, (values ?? []) as string[], '--env "');
}

function envEntries(command: string, entries: string[], where: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(
        `${where}${
          printable(entry.slice(0, 80))
        }" is not NAME=VALUE: see \`agentbox ${command} --help\``,
      );
    }
    const value = eq < 0 ? Deno.env.get(key) : entry.slice(eq + 1);
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/**
 * The guest environment from `--env-file FILE` (repeatable) then `-e/--env` (which win), as
 * docker reads them: one `NAME=VALUE` or `NAME` (the host's value) per line, the value taken
 * verbatim (quotes included); blank lines and lines starting with `#` are skipped.
 *
 * @example
 * ```ts
 * import { envOptions } from "./options.ts";
 * console.assert(envOptions("exec", { env: ["A=1"] }).A === "1");
 * ```
 */
export function envOptions(
  command: string,
  values: Record<string, unknown>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const file of (values["env-file"] ?? []) as string[]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (cause) {
      throw new UsageError(
        `--env-file ${JSON.stringify(printable(file))} cannot be read (${
          (cause as Error).name
        }): see \`agentbox ${command} --help\``,
        { cause },
      );
    }
    text.split("\n").forEach((raw, i) => {
      const line = raw.replace(/\r$/, "").trimStart();
      if (line === "" || line.startsWith("#")) return;
      const where = `${printable(file)}:${i + 1}`;
      Object.assign(env, envEntries(command, [line], `${where}: "`));
    });
  }
  return { ...env, ...envOption(command, values.env) };
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
