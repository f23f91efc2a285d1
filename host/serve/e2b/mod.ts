/**
 * The E2B-compatible endpoints of `agentbox serve --e2b`: E2B's control API on one listener and
 * its in-sandbox daemon (envd) for every sandbox on another, so that unchanged code using the
 * `e2b` SDK runs against local agentbox sandboxes with three environment variables:
 * `E2B_API_URL`, `E2B_SANDBOX_URL` and `E2B_API_KEY` (the serve token). See docs/e2b.md.
 *
 * @module
 */

import type { ApiContext } from "../../api/context.ts";
import { AgentboxError } from "../../api/errors.ts";
import { apiBackend, type ApiBackendOptions } from "./api_backend.ts";
import { e2bApiApp } from "./api_app.ts";
import { envdApp } from "./envd_app.ts";
import { DEFAULT_MAX_SANDBOXES, type E2bBackend, E2bSandboxes } from "./sandboxes.ts";

import { DEFAULT_E2B_API, DEFAULT_E2B_ENVD, type ListenAddress } from "./addresses.ts";

export { DEFAULT_E2B_API, DEFAULT_E2B_ENVD, type ListenAddress } from "./addresses.ts";
export { e2bApiApp } from "./api_app.ts";
export { envdApp } from "./envd_app.ts";
export { type E2bBackend, type E2bCreateRequest, E2bSandboxes } from "./sandboxes.ts";

/** Serve `handler` on `address`. Throws `AgentboxError` `e2b_listen_failed`. */
function listen(
  address: ListenAddress,
  what: string,
  handler: Deno.ServeHandler,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({ ...address, onListen: () => {} }, handler);
  } catch (cause) {
    const where = `${address.hostname}:${address.port}`;
    const detail = cause instanceof Deno.errors.AddrInUse
      ? "the address is in use (pick another with --e2b-api/--e2b-envd)"
      : cause instanceof Error
      ? cause.message
      : String(cause);
    throw new AgentboxError(`Cannot serve ${what} on ${where}: ${detail}`, {
      cause,
      kind: "unavailable",
      code: "e2b_listen_failed",
    });
  }
}

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
  const apiServer = listen(options.api ?? DEFAULT_E2B_API, "E2B's API", api.fetch);
  let envdServer;
  try {
    envdServer = listen(options.envd ?? DEFAULT_E2B_ENVD, "E2B's envd", envd.fetch);
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
