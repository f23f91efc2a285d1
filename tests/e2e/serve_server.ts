/**
 * A real `agentbox serve` for a test: a child process in the private world of
 * {@linkcode sandbox} (its own runtime, state, cache and config directories; the images of the
 * default data directory), listening on its unix socket and, when asked, on a loopback TCP port;
 * without a warm pool unless `args` name `--pool`, and without standby owners unless they name
 * `--pool-sessions`.
 *
 * @module
 */

import { agentbox } from "../helpers.ts";
import { decoder, sandbox } from "./session_sandbox.ts";

/** A running server and how to reach it. */
export interface TestServer {
  /** The sandbox world it runs in (`cli`, `ps`, `project`, `env`…). */
  world: Awaited<ReturnType<typeof sandbox>>;
  /** Its unix socket. */
  socket: string;
  /** `http://127.0.0.1:PORT` when started with `tcp` (`https://` with `--tls-cert`). */
  url?: string;
  /** The default token (made when started with `tcp`). */
  token?: string;
  /** fetch over the unix socket: `path` is `/v1/...`. */
  fetchSocket(path: string, init?: RequestInit): Promise<Response>;
  /** fetch over TCP with the token (or `token`: null for none). */
  fetchTcp(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  /** What the server printed on stderr so far. */
  log(): string;
  /**
   * Stop the server as a user does (SIGTERM) and wait until it has exited, keeping its world: what
   * it left running (`world.qemus()`) can be checked before disposal kills the rest.
   */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Start `agentbox serve` (with `args`; in network namespace `namespace` if given: its unix
 * socket is reachable from here, a TCP port only inside it), and resolve once it listens.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./serve_server.ts";
 * await using server = await startServer({ tcp: true });
 * const r = await server.fetchTcp("/v1/sandboxes");
 * ```
 */
export async function startServer(
  options: { tcp?: boolean; args?: string[]; namespace?: string } = {},
): Promise<TestServer> {
  const world = await sandbox();
  const args = [
    "serve",
    ...(options.tcp ? ["--listen", "127.0.0.1:0"] : []),
    // No warm VMs unless the test is about them: they would be QEMUs nobody asked for.
    ...(options.args?.includes("--pool") ? [] : ["--pool", "0"]),
    ...(options.args?.includes("--pool-sessions") ? [] : ["--pool-sessions", "0"]),
    ...options.args ?? [],
  ];
  const child = agentbox(args, {
    env: world.env,
    cwd: world.project,
    namespace: options.namespace,
  });
  let log = "";
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let url: string | undefined;
  const deadline = Date.now() + 60_000;
  while (!(log.includes("serving on unix:") && (!options.tcp || url))) {
    if (Date.now() > deadline) throw new Error(`agentbox serve did not start:\n${log}`);
    const { value, done } = await lines.read();
    if (done) throw new Error(`agentbox serve exited:\n${log}`);
    log += value;
    url ??= /serving on (https?:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1];
  }
  // Keep draining stderr so the server never blocks on it.
  (async () => {
    for (;;) {
      const { value, done } = await lines.read().catch(() => ({ value: "", done: true }));
      if (done) return;
      log += value;
    }
  })();
  const socket = /serving on unix:(\S+)/.exec(log)![1];
  let token: string | undefined;
  if (options.tcp) {
    const r = await world.cli(["serve", "token"]);
    if (r.code !== 0) throw new Error(`serve token failed: ${r.stderr}`);
    token = r.stdout.trim();
  }
  const client = Deno.createHttpClient(
    { proxy: { transport: "unix", path: socket } } as unknown as Deno.CreateHttpClientOptions,
  );
  child.stdout.cancel().catch(() => {});
  async function stop(): Promise<void> {
    try {
      child.kill("SIGTERM");
    } catch {
      // Gone.
    }
    await Promise.race([child.status, new Promise((r) => setTimeout(r, 10_000))]);
  }
  return {
    world,
    socket,
    url,
    token,
    fetchSocket: (path, init) => fetch(`http://agentbox${path}`, { ...init, client }),
    fetchTcp: (path, init = {}) => {
      const headers = new Headers(init.headers);
      const bearer = init.token === undefined ? token : init.token;
      if (bearer !== null && bearer !== undefined) headers.set("authorization", `Bearer ${bearer}`);
      return fetch(`${url}${path}`, { ...init, headers });
    },
    log: () => log,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      client.close();
      await world[Symbol.asyncDispose]();
    },
  };
}

export { decoder };
