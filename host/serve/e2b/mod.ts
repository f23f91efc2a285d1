/**
 * The E2B-compatible endpoints of `agentbox serve --e2b`: E2B's control API on one listener and
 * its in-sandbox daemon (envd) for every sandbox on another, so that unchanged code using the
 * `e2b` SDK runs against local agentbox sandboxes with three environment variables:
 * `E2B_API_URL`, `E2B_SANDBOX_URL` and `E2B_API_KEY` (the serve token). See docs/e2b.md.
 *
 * @module
 */

import type { ApiContext } from "../../api/context.ts";
import { apiBackend, type ApiBackendOptions } from "./api_backend.ts";
import { e2bApiApp } from "./api_app.ts";
import { envdApp } from "./envd_app.ts";
import { DEFAULT_MAX_SANDBOXES, type E2bBackend, E2bSandboxes } from "./sandboxes.ts";

export { e2bApiApp } from "./api_app.ts";
export { envdApp } from "./envd_app.ts";
export { type E2bBackend, type E2bCreateRequest, E2bSandboxes } from "./sandboxes.ts";

/** Where a listener binds. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The default control API address (loopback; E2B's SDK uses port 3000 in debug mode). */
export const DEFAULT_E2B_API: ListenAddress = { hostname: "127.0.0.1", port: 3000 };

/** The default envd address (loopback; envd's own port). */
export const DEFAULT_E2B_ENVD: ListenAddress = { hostname: "127.0.0.1", port: 49983 };

/** Options of {@linkcode startE2bServer}. */
export interface E2bServerOptions extends ApiBackendOptions {
  /** Whether `key` (the SDK's `E2B_API_KEY`) is a serve token. */
  authenticate(key: string): boolean | Promise<boolean>;
  api?: ListenAddress;
  envd?: ListenAddress;
  /** Running sandboxes at most (default {@linkcode DEFAULT_MAX_SANDBOXES}). */
  maxSandboxes?: number;
  /** The largest file upload. */
  maxUploadBytes?: number;
  /** Replaces the host/api backend (tests). */
  backend?: E2bBackend;
}

/** A running E2B server. */
export interface E2bServer {
  /** What to export as `E2B_API_URL`. */
  apiUrl: string;
  /** What to export as `E2B_SANDBOX_URL`. */
  sandboxUrl: string;
  sandboxes: E2bSandboxes;
  /** Stop listening and stop every sandbox it started. */
  close(): Promise<void>;
}

/**
 * Listen for E2B's API and envd. Rejects with `e2b_package_missing` without the `e2b` package's
 * descriptors, and with the listener's error when an address is taken.
 *
 * @example
 * ```ts ignore
 * import { startE2bServer } from "./mod.ts";
 * const server = await startE2bServer(ctx, { authenticate: (key) => key === token });
 * console.log(`export E2B_API_URL=${server.apiUrl} E2B_SANDBOX_URL=${server.sandboxUrl}`);
 * ```
 */
export async function startE2bServer(
  ctx: ApiContext,
  options: E2bServerOptions,
): Promise<E2bServer> {
  const sandboxes = new E2bSandboxes(
    options.backend ?? apiBackend(ctx, options),
    options.maxSandboxes ?? DEFAULT_MAX_SANDBOXES,
  );
  const envd = await envdApp({ sandboxes, maxUploadBytes: options.maxUploadBytes });
  const api = e2bApiApp({ sandboxes, authenticate: options.authenticate });
  const quiet = { onListen: () => {} };
  const apiServer = Deno.serve({ ...(options.api ?? DEFAULT_E2B_API), ...quiet }, api.fetch);
  let envdServer;
  try {
    envdServer = Deno.serve({ ...(options.envd ?? DEFAULT_E2B_ENVD), ...quiet }, envd.fetch);
  } catch (error) {
    await apiServer.shutdown();
    throw error;
  }
  const url = (addr: Deno.NetAddr) =>
    `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
  return {
    apiUrl: url(apiServer.addr),
    sandboxUrl: url(envdServer.addr),
    sandboxes,
    async close() {
      await sandboxes.close();
      await Promise.all([apiServer.shutdown(), envdServer.shutdown()]);
    },
  };
}
