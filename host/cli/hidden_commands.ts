/**
 * Names of the subcommands only agentbox itself starts (not in `agentbox --help`), kept apart
 * so that the entry point and the code that spawns them agree without loading each other.
 *
 * @module
 */

/**
 * A detached session's owner: `agentbox session-daemon ID` (host/cli/session_daemon.ts).
 *
 * @example
 * ```ts
 * import { SESSION_DAEMON } from "./hidden_commands.ts";
 * console.assert(SESSION_DAEMON === "session-daemon");
 * ```
 */
export const SESSION_DAEMON = "session-daemon";
