/**
 * Where the E2B endpoints listen by default (kept apart so that `agentbox serve --help` names them
 * without loading the endpoints).
 *
 * @module
 */

/** Where a listener binds. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The default control API address (loopback; E2B's SDK uses port 3000 in debug mode). */
export const DEFAULT_E2B_API: ListenAddress = { hostname: "127.0.0.1", port: 3000 };

/** The default envd address (loopback; envd's own port). */
export const DEFAULT_E2B_ENVD: ListenAddress = { hostname: "127.0.0.1", port: 49983 };
