/**
 * One host connection as the agent sees it: say hello, check the host's hello, then serve
 * requests until the connection ends. Everything the host asked for dies with the connection.
 *
 * A VM restored from a snapshot keeps its end of the byte stream open while a new host connects
 * to the other: that host speaks first, with its hello. A host hello on a greeted connection is
 * such a new host — what the previous one started is killed and silenced (see
 * protocol/stream_scope.ts), and the agent answers with its hello again.
 *
 * @module
 */

import {
  Connection,
  type Duplex,
  type ExecStart,
  type Hello,
  helloMessage,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
  sendRefusal,
  StreamScope,
} from "@agentbox/protocol";
import { sendChanges } from "./handlers/changes.ts";
import { type RunningExec, startExec } from "./handlers/exec.ts";
import { readFiles, writeFiles } from "./handlers/files.ts";
import { openPort } from "./handlers/port.ts";

/** Operations this agent implements, announced in its hello. */
export const AGENT_CAPABILITIES = [
  "exec",
  "exec.signal",
  "exec.timeout",
  "exec.stdin",
  "exec.pty",
  "exec.user",
  "changes",
  "files",
  "port",
  "changes.system",
];

/** Name and version announced in the hello. */
export const AGENT_SOFTWARE = "agentbox-agent/0.1.0";

/** Most concurrent streams one connection may have open. */
export const MAX_STREAMS = 256;

/** Options of {@linkcode serveConnection}. */
export interface ServeOptions {
  /**
   * Called with every host hello before the agent answers or serves anything else (the agent in
   * a VM sets the clock and reseeds the random generator from it: host_facts.ts). A throw is
   * passed to `onWarning` and does not end the connection.
   */
  onHostHello?: (hello: Hello) => void;
  /** Called with what went wrong but did not end the connection; the program decides where it goes. */
  onWarning?: (message: string) => void;
}

/** A request being served and the scope its messages go through. */
interface Running {
  scope: StreamScope;
  exec?: RunningExec;
  /** Ends what is not a process (a forwarded connection). */
  close?: () => void;
}

/**
 * Serve one connection until it closes. Resolves when it has ended and every process it started
 * has been killed.
 *
 * @example
 * ```ts
 * import { serveConnection } from "./session.ts";
 * const listener = Deno.listen({ transport: "unix", path: "/tmp/agent.sock" });
 * for await (const conn of listener) serveConnection(conn);
 * ```
 */
export async function serveConnection(
  duplex: Duplex,
  options: ServeOptions = {},
): Promise<void> {
  // No frame deadline here: the host is not the attacker, and on virtio-serial this connection
  // is the VM's only one — a host paused mid-frame (Ctrl-Z) must find its agent when it resumes.
  const conn = new Connection(duplex, { strictStreams: false, frameTimeoutMs: Infinity });
  const running = new Map<number, Running>();
  const hello = () => helloMessage("agent", AGENT_CAPABILITIES, AGENT_SOFTWARE);
  let greeted = false;

  conn.start((message) => {
    if (!greeted) {
      greeted = checkHello(conn, message);
      if (greeted) hostFacts(message as Hello, options);
      return;
    }
    if (message.type === "hello" && checkHello(conn, message)) {
      // A new host (the VM was restored from a snapshot): forget the previous one.
      endAll(running);
      hostFacts(message, options);
      conn.send(hello()).catch(() => {});
      return;
    }
    handle(conn, running, message);
  });
  await conn.send(hello()).catch(() => {});
  await conn.closed;
  endAll(running);
}

/** Silence and kill everything the host started. */
function endAll(running: Map<number, Running>): void {
  for (const { scope, exec, close } of running.values()) {
    scope.revoke();
    exec?.signal("SIGKILL");
    close?.();
  }
  running.clear();
}

function hostFacts(hello: Hello, options: ServeOptions): void {
  try {
    options.onHostHello?.(hello);
  } catch (error) {
    options.onWarning?.(`cannot apply the host's hello: ${error}`);
  }
}

function checkHello(conn: Connection, message: Message): boolean {
  if (message.type !== "hello" || message.role !== "host") {
    // Thrown, so that the connection tells the host why before it closes.
    throw new ProtocolError(
      "bad_message",
      message.type === "hello"
        ? "Expected the host's hello"
        : `Expected hello, got ${message.type}`,
    );
  }
  if (message.version !== PROTOCOL_VERSION) {
    const error = new ProtocolError(
      "version_mismatch",
      `Agent speaks protocol ${PROTOCOL_VERSION}, host speaks ${message.version}`,
    );
    conn.send({ type: "error", code: error.code, message: error.message }).finally(() =>
      conn.close(error)
    );
    return false;
  }
  return true;
}

function handle(conn: Connection, running: Map<number, Running>, message: Message): void {
  switch (message.type) {
    case "exec.start":
      return start(conn, running, message);
    case "changes.start":
      return serveTask(conn, running, message.stream, (scope) => sendChanges(scope, message));
    case "files.read":
      return serveTask(conn, running, message.stream, (scope) => readFiles(scope, message));
    case "files.write":
      return serveTask(conn, running, message.stream, (scope) => writeFiles(scope, message));
    case "port.open":
      return servePort(conn, running, message.stream, message.port);
    case "exec.signal":
      running.get(message.stream)?.exec?.signal(message.signal);
      return;
    case "exec.resize":
      // Like a signal, a resize for a stream that has ended is dropped.
      running.get(message.stream)?.exec?.resize(message);
      return;
    case "error": {
      if (message.stream === undefined) return conn.close();
      const target = running.get(message.stream);
      target?.exec?.signal("SIGKILL");
      target?.close?.();
      return;
    }
    case "session.snapshot":
    case "session.attach":
    case "session.stop":
      // A session's owner does these; an agent is asked only by mistake.
      return sendRefusal(
        conn,
        "unknown_type",
        `The agent does not do ${message.type}`,
        message.stream,
      );
    default:
      sendRefusal(conn, "bad_message", `The agent does not accept ${message.type}`);
  }
}

function start(conn: Connection, running: Map<number, Running>, message: ExecStart): void {
  const stream = message.stream;
  if (!admit(conn, running, stream)) return;
  const scope = new StreamScope(conn);
  try {
    const exec = startExec(scope, message);
    running.set(stream, { scope, exec });
    exec.done.finally(() => {
      if (running.get(stream)?.scope === scope) running.delete(stream);
    });
  } catch (error) {
    const e = error instanceof ProtocolError
      ? error
      : new ProtocolError("spawn_failed", String(error));
    sendRefusal(conn, e.code, e.message, stream);
  }
}

/** Refuse `stream` when it is in use or too many are open; true when it may start. */
function admit(conn: Connection, running: Map<number, Running>, stream: number): boolean {
  if (running.has(stream)) {
    sendRefusal(conn, "stream_exists", `Stream ${stream} is already in use`, stream);
    return false;
  }
  if (running.size >= MAX_STREAMS) {
    sendRefusal(conn, "too_many_streams", `At most ${MAX_STREAMS} streams may run`, stream);
    return false;
  }
  return true;
}

/** Run a request that ends by itself (changes, files) on `stream`, refusing it on failure. */
function serveTask(
  conn: Connection,
  running: Map<number, Running>,
  stream: number,
  task: (scope: StreamScope) => Promise<void>,
): void {
  if (!admit(conn, running, stream)) return;
  const scope = new StreamScope(conn);
  running.set(stream, { scope });
  task(scope).catch((error) => {
    const e = error instanceof ProtocolError ? error : new ProtocolError("internal", String(error));
    sendRefusal(scope, e.code, e.message, stream);
  }).finally(() => {
    if (running.get(stream)?.scope === scope) running.delete(stream);
  });
}

/** Open a forwarded connection to `port` on `stream`; it runs until both directions end. */
function servePort(
  conn: Connection,
  running: Map<number, Running>,
  stream: number,
  port: number,
): void {
  if (!admit(conn, running, stream)) return;
  const scope = new StreamScope(conn);
  let reset = false;
  const entry: Running = { scope, close: () => reset = true };
  running.set(stream, entry);
  const forget = () => {
    if (running.get(stream) === entry) running.delete(stream);
  };
  openPort(scope, { type: "port.open", stream, port }).then((open) => {
    entry.close = open.close;
    if (reset) open.close();
    return open.done;
  }, (error) => {
    const e = error instanceof ProtocolError ? error : new ProtocolError("internal", String(error));
    sendRefusal(scope, e.code, e.message, stream);
  }).finally(forget);
}
