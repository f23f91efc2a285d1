/**
 * `agentbox serve` as a child process of a test, in the test's private XDG world
 * (session_sandbox.ts): its unix socket, its TCP URL and token, its stderr so far.
 *
 * @module
 */
import assert from "node:assert/strict";
import { agentbox } from "../helpers.ts";
import type { sandbox } from "./session_sandbox.ts";

/** A running `agentbox serve`. */
export interface ServeChild extends AsyncDisposable {
  /** The owner-only unix socket. */
  socketPath: string;
  /** `http://127.0.0.1:PORT` (the server listens on a free port). */
  url: string;
  /** The bearer token of `url`. */
  token: string;
  /** What the server printed on stderr so far. */
  stderr(): string;
}

/**
 * Start `agentbox serve --listen 127.0.0.1:0 ARGS` in `world`'s project directory; resolves once
 * both addresses listen. Disposing of it stops the server (SIGTERM, then SIGKILL).
 *
 * @example
 * ```ts ignore
 * import { sandbox } from "./session_sandbox.ts";
 * import { startServe } from "./serve_child.ts";
 * await using s = await sandbox();
 * await using server = await startServe(s);
 * ```
 */
export async function startServe(
  world: Awaited<ReturnType<typeof sandbox>>,
  args: string[] = [],
): Promise<ServeChild> {
  const child = agentbox(["serve", "--listen", "127.0.0.1:0", ...args], {
    env: world.env,
    cwd: world.project,
  });
  child.stdout.cancel();
  let text = "";
  let wake = () => {};
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      wake();
    }
    wake();
  })();
  const deadline = Date.now() + 60_000;
  let url: string | undefined;
  while (url === undefined) {
    url = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    if (url) break;
    assert.ok(Date.now() < deadline, `agentbox serve did not start: ${text}`);
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => {
        wake = () => resolve(false);
        setTimeout(() => resolve(false), 1000);
      }),
    ]);
    assert.ok(!exited, `agentbox serve exited: ${text}`);
  }
  const socketPath = /serving on unix:(\S+)/.exec(text)?.[1];
  assert.ok(socketPath, text);
  const token = await world.cli(["serve", "token"]);
  assert.equal(token.code, 0, token.stderr);
  return {
    socketPath,
    url,
    token: token.stdout.trim(),
    stderr: () => text,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone.
        }
      }, 10_000);
      await child.status;
      clearTimeout(timer);
      await reading;
    },
  };
}
