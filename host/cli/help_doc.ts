/**
 * `docs/cli.md` carries the exact `--help` text of every command, in fenced blocks between
 * `<!-- agentbox help: COMMAND -->` and `<!-- /agentbox help -->` markers; the prose around them
 * is written by hand. `deno task docs:cli` regenerates the blocks, and a test fails when they are
 * stale.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { main } from "../main.ts";
import { printedHelp } from "./command_tree.ts";

/** The commands whose help the reference carries, as typed after `agentbox`. */
export const HELP_COMMANDS: readonly string[] = [
  "",
  "exec",
  "run",
  "ps",
  "shell",
  "start",
  "attach",
  "logs",
  "cp",
  "port",
  "stop",
  "rm",
  "prune",
  "system",
  "snapshot save",
  "snapshot restore",
  "snapshot ls",
  "snapshot rm",
  "images",
  "images build",
  "images list",
  "images rm",
  "diff",
  "export",
  "apply",
  "approvals",
  "approve",
  "reviews",
  "review",
  "requests",
  "usage",
  "agents",
  "serve",
  "doctor",
  "version",
  "completion",
  "config",
];

/** The reference, relative to the repository. */
export const CLI_DOC = fileURLToPath(new URL("../../docs/cli.md", import.meta.url));

const END = "<!-- /agentbox help -->";

/**
 * What `agentbox COMMAND --help` prints on stdout, run in this process.
 *
 * @example
 * ```ts ignore
 * import { helpText } from "./help_doc.ts";
 * console.log(await helpText("images build"));
 * ```
 */
export async function helpText(command: string): Promise<string> {
  return await printedHelp(main, command);
}

/**
 * `doc` with the block after each `<!-- agentbox help: COMMAND -->` marker replaced by `helps`'
 * text for COMMAND (`agentbox` for the top level). Throws when a command has no marker or a
 * marker names no command.
 *
 * @example
 * ```ts
 * import { fillHelpBlocks } from "./help_doc.ts";
 * const doc = "<!-- agentbox help: exec -->\nold\n<!-- /agentbox help -->\n";
 * fillHelpBlocks(doc, new Map([["exec", "Usage: agentbox exec"]]));
 * // "<!-- agentbox help: exec -->\n\n```\nUsage: agentbox exec\n```\n\n<!-- /agentbox help -->\n"
 * ```
 */
export function fillHelpBlocks(doc: string, helps: Map<string, string>): string {
  const seen = new Set<string>();
  const filled = doc.replace(
    /<!-- agentbox help: ([a-z ]+) -->\n[\s\S]*?<!-- \/agentbox help -->/g,
    (_, command: string) => {
      const text = helps.get(command);
      if (text === undefined) throw new Error(`docs/cli.md has a help block for "${command}"`);
      seen.add(command);
      // The blank lines are deno fmt's.
      return `<!-- agentbox help: ${command} -->\n\n\`\`\`\n${text}\n\`\`\`\n\n${END}`;
    },
  );
  const missing = [...helps.keys()].filter((command) => !seen.has(command));
  if (missing.length > 0) {
    throw new Error(`docs/cli.md has no help block for: ${missing.join(", ")}`);
  }
  return filled;
}

/**
 * The reference as it should be: `doc` with every command's current help.
 *
 * @example
 * ```ts ignore
 * import { CLI_DOC, renderCliDoc } from "./help_doc.ts";
 * await Deno.writeTextFile(CLI_DOC, await renderCliDoc(await Deno.readTextFile(CLI_DOC)));
 * ```
 */
export async function renderCliDoc(doc: string): Promise<string> {
  const helps = new Map<string, string>();
  for (const command of HELP_COMMANDS) {
    helps.set(command || "agentbox", await helpText(command));
  }
  return fillHelpBlocks(doc, helps);
}

if (import.meta.main) {
  const current = await Deno.readTextFile(CLI_DOC);
  const wanted = await renderCliDoc(current);
  if (Deno.args.includes("--check")) {
    if (wanted !== current) {
      console.error("docs/cli.md is stale: run `deno task docs:cli`");
      Deno.exit(1);
    }
  } else if (wanted !== current) {
    await Deno.writeTextFile(CLI_DOC, wanted);
    console.error("docs/cli.md updated");
  }
}
