/**
 * Names of the subcommands only agentbox itself starts (not in `agentbox --help`), kept apart
 * so that the entry point and the code that spawns them agree without loading each other. Each
 * is defined beside the code that spawns it.
 *
 * @module
 */

export { SESSION_DAEMON } from "../session/self_command.ts";
