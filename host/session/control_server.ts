/**
 * A session's control socket: the owner speaks the agent's own protocol on a unix socket and
 * relays every client's execs onto its one connection to the guest agent, each on a stream of its
 * own. Clients are plain {@linkcode AgentClient}s: `exec --session`, `shell` and attach need no
 * second wire format, and any number of them can work in the session at once.
 *
 * The owner adds the session's defaults (proxy variables, the workspace as working directory)
 * under each request, as `exec` does for a fresh VM. A client that hangs up takes its commands
 * with it (SIGKILL to their process groups), as a connection to the agent does. The socket is
 * created mode 0600 in the owner's private runtime directory: only its user can connect.
 *
 * @module
 */

import {
  Connection,
  type ExecStart,
  helloMessage,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
  sendRefusal,
  type SessionForward,
  type SessionSnapshot,
} from "@agentbox/protocol";
import {
  type AgentClient,
  AgentError,
  type ExecHandle,
  type ForwardAddress,
} from "../channel/agent_client.ts";
import {
  type Cleanups,
  relayFilesRead,
  relayFilesWrite,
  relayForward,
  relayPort,
} from "./relay_streams.ts";
import { VERSION } from "../version.ts";

/** Most commands one client may have running at once. */
export const MAX_CLIENT_EXECS = 64;

/** Most clients connected at once; later ones are refused until one leaves. */
export const MAX_CLIENTS = 64;

/** Name and version announced in the owner's hello. */
export const SESSION_SOFTWARE = `agentbox-session/${VERSION}`;

/** What every exec of the session starts with, under the client's own settings. */
export interface ExecDefaults {
  env: Record<string, string>;
  cwd?: string;
  /** Guest user for commands that name none (the image's default user). */
  user?: string;
}

/** What the owner does itself when a client asks (`session.snapshot`). */
export interface OwnerOperations {
  /** Save a snapshot into the empty directory `dir`; one at a time. */
  saveSnapshot?(dir: string): Promise<void>;
  /** Forward a host port into the guest (`session.forward`); where it listens. */
  forwardPort?(request: SessionForward): Promise<ForwardAddress>;
}

/** A serving control socket. */
export interface ControlServer {
  /** Stop accepting, hang up on every client (their commands are killed). */
  close(): Promise<void>;
}

/**
 * Serve the agent protocol on the unix socket `path`, relaying to `agent`.
 *
 * @example
 * ```ts
 * import { serveControl } from "./control_server.ts";
 * import type { RunningVm } from "../vm/running_vm.ts";
 * declare const vm: RunningVm;
 * const server = serveControl("/run/agentbox/sessions/5d1f0c3e9a2b/ctl.sock", vm.agent, { env: {} });
 * // clients: AgentClient.connect(await Deno.connect({ transport: "unix", path }))
 * await server.close();
 * ```
 */
export function serveControl(
  path: string,
  agent: AgentClient,
  defaults: ExecDefaults,
  operations: OwnerOperations = {},
): ControlServer {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (cause) {
    throw new Error(`Cannot listen on the session's control socket ${path}`, { cause });
  }
  Deno.chmodSync(path, 0o600);
  const clients = new Set<Connection>();
  const serialized = oneAtATime(operations);
  const served = new Set<Promise<void>>();
  const accepting = (async () => {
    for await (const socket of listener) {
      if (clients.size >= MAX_CLIENTS) {
        socket.close();
        continue;
      }
      const conn = new Connection(socket, { strictStreams: false });
      clients.add(conn);
      const done = serveClient(conn, { agent, defaults, operations: serialized }).finally(() => {
        clients.delete(conn);
        served.delete(done);
      });
      served.add(done);
    }
  })().catch(() => {});
  return {
    async close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await accepting;
      for (const conn of clients) conn.close();
      await Promise.all(served);
      await Deno.remove(path).catch(() => {});
    },
  };
}

/** What every client of one session is served with. */
interface Served {
  agent: AgentClient;
  defaults: ExecDefaults;
  operations: OwnerOperations;
}

/** Serve one client until it hangs up; then kill what it left running. */
async function serveClient(conn: Connection, served: Served) {
  const { agent } = served;
  const running = new Map<number, ExecHandle>();
  const cleanups: Cleanups = new Map();
  let greeted = false;
  conn.start((message) => {
    if (!greeted) {
      checkHello(message);
      greeted = true;
      return;
    }
    handle(conn, served, running, message, cleanups);
  });
  const capabilities = agent.hello.capabilities.filter((c) => c !== "changes");
  await conn.send(helloMessage("agent", capabilities, SESSION_SOFTWARE)).catch(() => {});
  await conn.closed;
  for (const run of running.values()) run.signal("SIGKILL").catch(() => {});
  for (const cleanup of cleanups.values()) cleanup();
}

/** Thrown, so that the connection tells the client why before it closes. */
function checkHello(message: Message): void {
  if (message.type !== "hello" || message.role !== "host") {
    throw new ProtocolError("bad_message", `Expected the client's hello, got ${message.type}`);
  }
  if (message.version !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "version_mismatch",
      `The session speaks protocol ${PROTOCOL_VERSION}, the client ${message.version}`,
    );
  }
}

function handle(
  conn: Connection,
  served: Served,
  running: Map<number, ExecHandle>,
  message: Message,
  cleanups: Cleanups,
): void {
  switch (message.type) {
    case "exec.start":
      return relayExec(conn, served.agent, served.defaults, running, message);
    case "exec.signal":
      running.get(message.stream)?.signal(message.signal).catch(() => {});
      return;
    case "exec.resize":
      running.get(message.stream)?.resize(message).catch(() => {});
      return;
    case "error":
      if (message.stream === undefined) conn.close();
      else running.get(message.stream)?.signal("SIGKILL").catch(() => {});
      if (message.stream !== undefined) cleanups.get(message.stream)?.();
      return;
    case "files.read":
      return relayFilesRead(conn, served.agent, message);
    case "files.write":
      return relayFilesWrite(conn, served.agent, message, served.defaults.user);
    case "port.open":
      return relayPort(conn, served.agent, message, cleanups);
    case "session.forward":
      return relayForward(conn, served.operations.forwardPort, message);
    case "session.snapshot":
      return saveSnapshot(conn, served.operations, message);
    case "changes.start":
      return sendRefusal(
        conn,
        "bad_message",
        "A session's changes are collected when it stops: use `agentbox stop` and `agentbox diff`",
        message.stream,
      );
    default:
      sendRefusal(conn, "bad_message", `A session does not accept ${message.type}`);
  }
}

function relayExec(
  conn: Connection,
  agent: AgentClient,
  defaults: ExecDefaults,
  running: Map<number, ExecHandle>,
  start: ExecStart,
): void {
  const stream = start.stream;
  if (running.has(stream)) {
    return sendRefusal(conn, "stream_exists", `Stream ${stream} is already in use`, stream);
  }
  if (running.size >= MAX_CLIENT_EXECS) {
    return sendRefusal(
      conn,
      "too_many_streams",
      `At most ${MAX_CLIENT_EXECS} commands may run`,
      stream,
    );
  }
  const run = agent.exec({
    argv: start.argv,
    env: { ...defaults.env, ...start.env },
    cwd: start.cwd ?? defaults.cwd,
    user: start.user ?? defaults.user,
    stdin: start.stdin ? conn.receive(stream, 0) : undefined,
    timeoutMs: start.timeoutMs,
    pty: start.pty,
  });
  running.set(stream, run);
  run.result.catch(() => {}); // A failed start rejects both; the start is what is reported.
  const output = Promise.all([
    run.stdout.pipeTo(conn.transmit(stream, 1)),
    run.stderr.pipeTo(conn.transmit(stream, 2)),
  ]);
  output.catch(() => {});
  (async () => {
    const pid = await run.started;
    await conn.send({ type: "exec.started", stream, pid });
    // The exit goes after the end of both outputs, as the agent sends it.
    const [result] = await Promise.all([run.result, output]);
    await conn.send({ type: "exec.exit", stream, ...result });
  })().catch((error) => {
    const code = error instanceof AgentError ? error.code : "internal";
    sendRefusal(conn, code, error instanceof Error ? error.message : String(error), stream);
  }).finally(() => {
    running.delete(stream);
    // Late stdin from the client is dropped from now on.
    conn.forget(stream);
  });
}

/** Each operation of `operations`, waiting for the previous call of any of them to end. */
function oneAtATime(operations: OwnerOperations): OwnerOperations {
  let last: Promise<unknown> = Promise.resolve();
  const queue = <T>(run: () => Promise<T>): Promise<T> => {
    const next = last.then(run, run);
    last = next.catch(() => {});
    return next;
  };
  const save = operations.saveSnapshot;
  return {
    ...operations,
    saveSnapshot: save && ((dir) => queue(() => save(dir))),
  };
}

/** Save a snapshot as `request` asks, answering `session.snapshot.done` or an error. */
function saveSnapshot(
  conn: Connection,
  operations: OwnerOperations,
  request: SessionSnapshot,
): void {
  const stream = request.stream;
  const save = operations.saveSnapshot;
  if (!save) {
    return sendRefusal(conn, "unknown_type", "This session cannot save snapshots", stream);
  }
  save(request.dir).then(
    () => conn.send({ type: "session.snapshot.done", stream }),
    (error) => {
      const message = error instanceof Error ? error.message : "unknown failure";
      sendRefusal(conn, "snapshot_failed", `Cannot save the snapshot: ${message}`, stream);
    },
  ).catch(() => {}).finally(() => conn.forget(stream));
}
