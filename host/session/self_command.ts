/**
 * How agentbox starts itself again (a session's owner): the compiled binary as it is, or, when run
 * from source, the same Deno with the repository's configuration and entry point.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * The hidden subcommand that owns a detached session: `agentbox session-daemon ID`. Not in
 * `agentbox --help`; the entry point and the code that spawns it agree through this name.
 *
 * @example
 * ```ts
 * import { SESSION_DAEMON } from "./self_command.ts";
 * console.assert(SESSION_DAEMON === "session-daemon");
 * ```
 */
export const SESSION_DAEMON = "session-daemon";

/** The flag after `session-daemon ID` that starts a standby owner (host/api/standby.ts). */
export const STANDBY_FLAG = "--standby";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/**
 * Program and leading arguments that run `agentbox` followed by your own arguments.
 *
 * @example
 * ```ts
 * import { selfCommand } from "./self_command.ts";
 * const [program, ...args] = selfCommand();
 * const out = await new Deno.Command(program, { args: [...args, "--version"] }).output();
 * ```
 */
export function selfCommand(): string[] {
  if (Deno.build.standalone) return [Deno.execPath()];
  return [Deno.execPath(), "run", "--allow-all", "--quiet", `--config=${CONFIG}`, MAIN];
}
