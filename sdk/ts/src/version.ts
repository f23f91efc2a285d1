/** The SDK's version: agentbox's (host/version.ts); a test checks they and package.json agree. */
export const VERSION = "0.1.0";
