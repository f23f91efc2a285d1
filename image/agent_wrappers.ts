/**
 * Wrappers of the agent commands: the agent CLIs and the Node they need live under their own
 * prefix (the dev image's `/opt/agentbox/agents`), off PATH; a small script on PATH per command
 * runs it with that Node. The project's `node` and `npm` stay the image's own, and the commands an
 * agent runs for the project see them too (the wrapper changes no variable).
 *
 * @module
 */

import { join, posix } from "node:path";
import { ImageError } from "./errors.ts";

/** A command name a wrapper may have: a plain file name. */
const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A guest path that is safe to write into a shell script unquoted: absolute, plain names. */
const PLAIN_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

/** A command to wrap: its name, and whether it is an executable of its own or a Node script. */
export interface AgentCommand {
  name: string;
  native: boolean;
}

/**
 * The wrapper script of `command`, installed by npm under `prefix` (a guest path): it runs npm's
 * link `<prefix>/bin/<name>` — with `<prefix>/bin/node` when it is a Node script, directly when
 * it is an executable of its own (Claude Code's native build). Throws {@linkcode ImageError} for a
 * name or path that is not plain.
 *
 * @example
 * ```ts
 * import { wrapperScript } from "./agent_wrappers.ts";
 * wrapperScript("/opt/agentbox/agents", { name: "codex", native: false }).split("\n").at(-2);
 * // 'exec /opt/agentbox/agents/bin/node /opt/agentbox/agents/bin/codex "$@"'
 * ```
 */
export function wrapperScript(prefix: string, command: AgentCommand): string {
  if (!PLAIN_PATH.test(prefix)) throw new ImageError(`Invalid agent prefix "${prefix}"`);
  if (!COMMAND_NAME.test(command.name)) {
    throw new ImageError(`Invalid agent command "${command.name}"`);
  }
  const bin = posix.join(prefix, "bin");
  const run = command.native
    ? `exec ${bin}/${command.name} "$@"`
    : `exec ${bin}/node ${bin}/${command.name} "$@"`;
  return [
    "#!/bin/sh",
    `# agentbox: ${command.name} lives under ${prefix} with the Node it needs, off PATH:`,
    "# node and npm on PATH are the image's own (the project's toolchain).",
    run,
    "",
  ].join("\n");
}

/**
 * Write a wrapper for each of `commands` into the tree `root`'s `binDir` (tree-relative), for
 * commands npm installed under `prefix` (a guest path). An existing file there is replaced.
 *
 * @example
 * ```ts ignore
 * import { writeWrappers } from "./agent_wrappers.ts";
 * await writeWrappers("/tmp/rootfs", {
 *   prefix: "/opt/agentbox/agents",
 *   binDir: "usr/local/bin",
 *   commands: [{ name: "claude", native: true }],
 * });
 * ```
 */
export async function writeWrappers(
  root: string,
  options: { prefix: string; binDir: string; commands: AgentCommand[] },
): Promise<void> {
  const dir = join(root, options.binDir);
  await Deno.mkdir(dir, { recursive: true });
  for (const command of options.commands) {
    const script = wrapperScript(options.prefix, command);
    const path = join(dir, command.name);
    await Deno.remove(path).catch(() => {});
    await Deno.writeTextFile(path, script, { mode: 0o755, createNew: true });
    await Deno.chmod(path, 0o755);
  }
}
