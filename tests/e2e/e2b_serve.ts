/**
 * A real `agentbox serve --e2b` for a test, on loopback ports the kernel picks, in the test's
 * private XDG world: started as a subprocess, its E2B URLs read from what it prints, its token
 * from `agentbox serve token`, stopped (SIGTERM, then SIGKILL) when disposed of.
 *
 * @module
 */

import { agentbox } from "../helpers.ts";
import { decoder, type sandbox } from "./session_sandbox.ts";

type World = Awaited<ReturnType<typeof sandbox>>;

/** A running E2B server. */
export interface E2bServe extends AsyncDisposable {
  apiUrl: string;
  sandboxUrl: string;
  token: string;
  /** Set `E2B_API_URL`, `E2B_SANDBOX_URL` and `E2B_API_KEY` in this process, for the SDK. */
  exportForSdk(): void;
  /** What the server printed on stderr so far. */
  stderr(): string;
}

const URL_LINE = /^export (E2B_API_URL|E2B_SANDBOX_URL)=(\S+)$/;

/**
 * Start `agentbox serve --e2b` in world `s`; resolves once both listeners are up.
 *
 * @example
 * ```ts ignore
 * await using serve = await startE2bServe(s);
 * serve.exportForSdk();
 * ```
 */
export async function startE2bServe(s: World, extra: string[] = []): Promise<E2bServe> {
  const child = agentbox(
    ["serve", "--e2b", "--e2b-api", "127.0.0.1:0", "--e2b-envd", "127.0.0.1:0", ...extra],
    { env: s.env, cwd: s.project },
  );
  let stderr = "";
  (async () => {
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })().catch(() => {});
  const urls: Record<string, string> = {};
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!urls.E2B_API_URL || !urls.E2B_SANDBOX_URL) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`agentbox serve --e2b ended before listening:\n${stderr}`);
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const match = URL_LINE.exec(line.trim());
        if (match) urls[match[1]] = match[2];
      }
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining stdout so the server never blocks on it.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  const token = await s.cli(["serve", "token"]);
  if (token.code !== 0) throw new Error(`agentbox serve token failed: ${token.stderr}`);
  const server: E2bServe = {
    apiUrl: urls.E2B_API_URL,
    sandboxUrl: urls.E2B_SANDBOX_URL,
    token: token.stdout.trim(),
    exportForSdk() {
      Deno.env.set("E2B_API_URL", server.apiUrl);
      Deno.env.set("E2B_SANDBOX_URL", server.sandboxUrl);
      Deno.env.set("E2B_API_KEY", server.token);
    },
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 60_000);
      await child.status;
      clearTimeout(killer);
    },
  };
  return server;
}
