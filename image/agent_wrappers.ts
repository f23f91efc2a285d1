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

/**
 * The wrapper script of `command`, installed by npm under `prefix` (a guest path): it runs npm's
 * link `<prefix>/bin/<command>` with `<prefix>/bin/node`. Throws {@linkcode ImageError} for a
 * name or path that is not plain.
 *
 * @example
 * ```ts
 * import { wrapperScript } from "./agent_wrappers.ts";
 * wrapperScript("/opt/agentbox/agents", "claude").split("\n").at(-2);
 * // 'exec /opt/agentbox/agents/bin/node /opt/agentbox/agents/bin/claude "$@"'
 * ```
 */
export function wrapperScript(prefix: string, command: string): string {
  if (!PLAIN_PATH.test(prefix)) throw new ImageError(`Invalid agent prefix "${prefix}"`);
  if (!COMMAND_NAME.test(command)) throw new ImageError(`Invalid agent command "${command}"`);
  const bin = posix.join(prefix, "bin");
  return [
    "#!/bin/sh",
    `# agentbox: ${command} runs with the Node under ${prefix}, which is not on PATH:`,
    "# node and npm on PATH are the image's own (the project's toolchain).",
    `exec ${bin}/node ${bin}/${command} "$@"`,
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
 * await writeWrappers("/tmp/rootfs", { prefix: "/opt/agentbox/agents", binDir: "usr/local/bin",
 *   commands: ["claude"] });
 * ```
 */
export async function writeWrappers(
  root: string,
  options: { prefix: string; binDir: string; commands: string[] },
): Promise<void> {
  const dir = join(root, options.binDir);
  await Deno.mkdir(dir, { recursive: true });
  for (const command of options.commands) {
    const script = wrapperScript(options.prefix, command);
    const path = join(dir, command);
    await Deno.remove(path).catch(() => {});
    await Deno.writeTextFile(path, script, { mode: 0o755, createNew: true });
    await Deno.chmod(path, 0o755);
  }
}
