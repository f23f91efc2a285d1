/**
 * The man page, agentbox(1), generated from the help texts through the command tree: the top-level
 * help as DESCRIPTION, then each command's `--help` verbatim. `agentbox help --man` prints it
 * (install.sh installs it from there); `deno task docs:man` writes docs/agentbox.1, and a test
 * fails when that copy is stale.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { VERSION } from "../version.ts";
import { type Cli, type CommandNode, commandTree } from "./command_tree.ts";

/** The committed copy, relative to the repository. */
export const MAN_PAGE = fileURLToPath(new URL("../../docs/agentbox.1", import.meta.url));

/**
 * `text` as roff: backslashes and hyphens escaped, no line taken for a request.
 *
 * @example
 * ```ts
 * import { roffText } from "./man_page.ts";
 * console.assert(roffText(".x -y") === "\\&.x \\-y");
 * ```
 */
export function roffText(text: string): string {
  return text.split("\n").map((line) =>
    line.replaceAll("\\", "\\e").replaceAll("-", "\\-").replace(/^([.'])/, "\\&$1")
  ).join("\n");
}

function verbatim(text: string): string {
  return `.nf\n${roffText(text)}\n.fi`;
}

/**
 * The man page of the CLI `cli`, in roff.
 *
 * @example
 * ```ts ignore
 * import { renderManPage } from "./man_page.ts";
 * import { COMMANDS, main } from "../main.ts";
 * console.log(await renderManPage({ commands: COMMANDS, run: main }));
 * ```
 */
export async function renderManPage(cli: Cli): Promise<string> {
  const tree = await commandTree(cli);
  const sections: string[] = [
    `.TH AGENTBOX 1 "" "agentbox ${VERSION}" "User Commands"`,
    ".SH NAME",
    `agentbox \\- ${roffText(tree.main.summary)}`,
    ".SH SYNOPSIS",
    ".B agentbox\n[GLOBAL OPTIONS] COMMAND [OPTIONS]",
    ".SH DESCRIPTION",
    verbatim(tree.main.help),
    ".SH COMMANDS",
  ];
  const commands = tree.commands.filter((c) => c.path[0] !== "help");
  const section = (node: CommandNode) =>
    node.help ? [`.SS agentbox ${node.path.join(" ")}`, verbatim(node.help)] : [];
  for (const command of commands) {
    sections.push(...section(command));
    for (const child of command.children) sections.push(...section(child));
  }
  sections.push(
    ".SH EXIT STATUS",
    "A guest command's own status; 128+N when signal N ended it; 124 timeout; 125 usage or " +
      "configuration error; 126 VM or image failure; 127 command not found.",
    ".SH ENVIRONMENT",
    ".TP\n.B NO_COLOR\nset to anything but the empty string: no colour unless \\-\\-color=always.",
    ".TP\n.B XDG_DATA_HOME, XDG_CACHE_HOME, XDG_STATE_HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR\n" +
      "where images, caches, sessions, configuration and sockets live.",
    ".SH SEE ALSO",
    "docs/cli.md, docs/configuration.md and docs/security.md in the agentbox repository.",
  );
  return `${sections.join("\n")}\n`;
}

if (import.meta.main) {
  const { COMMANDS, main } = await import("../main.ts");
  const wanted = await renderManPage({ commands: COMMANDS, run: main });
  const current = await Deno.readTextFile(MAN_PAGE).catch(() => "");
  if (Deno.args.includes("--check")) {
    if (wanted !== current) {
      console.error("docs/agentbox.1 is stale: run `deno task docs:man`");
      Deno.exit(1);
    }
  } else if (wanted !== current) {
    await Deno.writeTextFile(MAN_PAGE, wanted);
    console.error("docs/agentbox.1 updated");
  }
}
