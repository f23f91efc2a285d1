/**
 * The CLI as data, read from the same places the help comes from: the command table in
 * `host/main.ts` (names, summaries, subcommands) and each command's `--help` text (its options,
 * their value names and descriptions). Shell completions and the man page are generated from it,
 * so they cannot list an option the help does not.
 *
 * @module
 */

import type { CommandEntry } from "../main.ts";
import { GLOBAL_OPTIONS } from "./output_settings.ts";

/**
 * The CLI to describe: its command table and its entry point. Passed in rather than imported, as
 * `main.ts` loads the commands that use this.
 */
export interface Cli {
  commands: Record<string, CommandEntry>;
  run(args: string[]): Promise<number>;
}

/**
 * What `agentbox COMMAND --help` prints on stdout, run in this process through `cli.run`.
 *
 * @example
 * ```ts ignore
 * import { printedHelp } from "./command_tree.ts";
 * import { main } from "../main.ts";
 * console.log(await printedHelp(main, "images build"));
 * ```
 */
export async function printedHelp(
  run: (args: string[]) => Promise<number>,
  command: string,
): Promise<string> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(args.map(String).join(" "));
  try {
    const status = await run([...command.split(" ").filter(Boolean), "--help"]);
    if (status !== 0) throw new Error(`agentbox ${command} --help exited ${status}`);
  } finally {
    console.log = log;
  }
  return printed.join("\n").trimEnd();
}

/** One option as a help text lists it. */
export interface OptionEntry {
  /** `env` for `--env`. */
  long: string;
  /** `e` for `-e`. */
  short?: string;
  /** The value's name (`K=V`, `DIR`), when the option takes one. */
  value?: string;
  /** The first line of its description. */
  summary: string;
}

/** A command (or a subcommand: `images build`) with what follows it. */
export interface CommandNode {
  /** The words after `agentbox`: `["images", "build"]`. */
  path: string[];
  summary: string;
  options: OptionEntry[];
  /** Subcommands, or the fixed words the command takes (`completion bash`). */
  children: CommandNode[];
  /** The command's whole `--help` text. */
  help: string;
}

/** A help line that names an option: `  -e, --env K=V     set …`. */
const OPTION_LINE =
  /^ {2}(?:-([A-Za-z]), )?--([a-z][a-z0-9-]*)(?:[ =]([A-Z][A-Za-z0-9_=.|-]*))?(?: +(.*))?$/;

/**
 * The options a help text lists, in order.
 *
 * @example
 * ```ts
 * import { helpOptions } from "./command_tree.ts";
 * const [env] = helpOptions("Options:\n  -e, --env K=V     set a variable\n");
 * console.assert(env.short === "e" && env.long === "env" && env.value === "K=V");
 * ```
 */
export function helpOptions(help: string): OptionEntry[] {
  const options: OptionEntry[] = [];
  for (const line of help.split("\n")) {
    const match = OPTION_LINE.exec(line);
    if (!match) continue;
    const [, short, long, value, summary] = match;
    if (options.some((o) => o.long === long)) continue;
    options.push({ long, short, value, summary: summary?.trim().replace(/[,;:]$/, "") ?? "" });
  }
  return options;
}

/** The global options as entries, for commands whose help does not list them all. */
function globalEntries(help: string, mainHelp: string): OptionEntry[] {
  const listed = helpOptions(help);
  return Object.entries(GLOBAL_OPTIONS).map(([long, spec]) =>
    listed.find((o) => o.long === long) ?? {
      long,
      short: "short" in spec ? spec.short : undefined,
      value: spec.type === "string" ? "WHEN" : undefined,
      summary: helpOptions(mainHelp).find((o) => o.long === long)?.summary ?? "",
    }
  );
}

/**
 * Every visible command with its options and subcommands.
 *
 * @example
 * ```ts ignore
 * import { commandTree } from "./command_tree.ts";
 * import { COMMANDS, main } from "../main.ts";
 * const tree = await commandTree({ commands: COMMANDS, run: main });
 * for (const c of tree.commands) console.log(c.path.join(" "), c.options.length);
 * ```
 */
export async function commandTree(
  cli: Cli,
): Promise<{ main: CommandNode; commands: CommandNode[] }> {
  const helpText = (command: string) => printedHelp(cli.run, command);
  const mainHelp = await helpText("");
  const node = async (path: string[], summary: string): Promise<CommandNode> => {
    const help = await helpText(path.join(" "));
    const own = helpOptions(help);
    const extra = globalEntries(help, mainHelp).filter((g) => !own.some((o) => o.long === g.long));
    return { path, summary, options: [...own, ...extra], children: [], help };
  };
  const commands: CommandNode[] = [];
  for (const [name, entry] of Object.entries(cli.commands)) {
    const command = await node([name], entry.summary);
    for (const sub of entry.subcommands ?? []) {
      if (name === "completion") {
        const summary = `${sub} completions`;
        command.children.push({ path: [name, sub], summary, options: [], children: [], help: "" });
        continue;
      }
      const child = await node([name, sub], "");
      const first = child.help.split("\n")[0];
      child.summary = subcommandSummary(command.help, sub) ??
        (first.startsWith("Usage:") ? sub : first.replace(/\.$/, ""));
      command.children.push(child);
    }
    commands.push(command);
  }
  const main: CommandNode = {
    path: [],
    summary: "run untrusted commands and coding agents in microVMs",
    options: globalEntries(mainHelp, mainHelp).concat(
      helpOptions(mainHelp).filter((o) => !Object.hasOwn(GLOBAL_OPTIONS, o.long)),
    ),
    children: commands,
    help: mainHelp,
  };
  return { main, commands };
}

/** `  build [NAME]   Build the image…` in the parent's help → "Build the image…". */
function subcommandSummary(parentHelp: string, sub: string): string | undefined {
  for (const line of parentHelp.split("\n")) {
    const match = /^ {2}([a-z]+)(?:, [a-z]+)?(?: [^ ].*?)?\s{2,}(.+)$/.exec(line);
    if (match && match[1] === sub) return match[2].trim();
  }
  return undefined;
}
