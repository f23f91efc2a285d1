/** agentbox's version, printed by `agentbox --version` and announced to the agent. */
export const VERSION = "0.1.0";
