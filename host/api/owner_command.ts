/**
 * The name of the hidden command that owns a detached session (`agentbox session-daemon ID`), for
 * the entry point's dispatch. A file of its own so that `agentbox --version` loads nothing else.
 *
 * @module
 */

export { SESSION_DAEMON, STANDBY_FLAG } from "../session/self_command.ts";
