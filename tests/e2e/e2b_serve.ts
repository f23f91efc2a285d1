/**
 * A real `agentbox serve --e2b` for a test (the server of serve_server.ts, with E2B's endpoints on
 * loopback ports the kernel picks): its E2B URLs read from the lines it prints, its API key from
 * `agentbox serve token`.
 *
 * @module
 */

import { startServer, type TestServer } from "./serve_server.ts";

/** A running server with E2B's endpoints. */
export interface E2bServe extends TestServer {
  apiUrl: string;
  sandboxUrl: string;
  apiKey: string;
  /** Set `E2B_API_URL`, `E2B_SANDBOX_URL` and `E2B_API_KEY` in this process, for the SDK. */
  exportForSdk(): void;
}

/**
 * Start `agentbox serve --e2b` in a private world; resolves once the E2B listeners are up.
 *
 * @example
 * ```ts ignore
 * await using serve = await startE2bServe();
 * serve.exportForSdk();
 * const ps = await serve.world.ps();
 * ```
 */
export async function startE2bServe(extra: string[] = []): Promise<E2bServe> {
  const server = await startServer({
    args: ["--e2b", "--e2b-api", "127.0.0.1:0", "--e2b-envd", "127.0.0.1:0", ...extra],
  });
  const deadline = Date.now() + 60_000;
  let urls: RegExpExecArray | null = null;
  while (!(urls = /E2B_API_URL=(\S+)\nexport E2B_SANDBOX_URL=(\S+)/.exec(server.log()))) {
    if (Date.now() > deadline) {
      await server[Symbol.asyncDispose]();
      throw new Error(`agentbox serve --e2b did not start its endpoints:\n${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const token = await server.world.cli(["serve", "token"]);
  if (token.code !== 0) throw new Error(`agentbox serve token failed: ${token.stderr}`);
  const e2b: E2bServe = {
    ...server,
    apiUrl: urls[1],
    sandboxUrl: urls[2],
    apiKey: token.stdout.trim(),
    exportForSdk() {
      Deno.env.set("E2B_API_URL", e2b.apiUrl);
      Deno.env.set("E2B_SANDBOX_URL", e2b.sandboxUrl);
      Deno.env.set("E2B_API_KEY", e2b.apiKey);
    },
  };
  return e2b;
}
