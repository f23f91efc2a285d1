/**
 * One host connection as the agent sees it: say hello, check the host's hello, then serve
 * requests until the connection ends. Everything the host asked for dies with the connection.
 *
 * @module
 */

import {
  Connection,
  type Duplex,
  type ExecStart,
  helloMessage,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
} from "@agentbox/protocol";
import { sendChanges } from "./handlers/changes.ts";
import { type RunningExec, startExec } from "./handlers/exec.ts";

/** Operations this agent implements, announced in its hello. */
export const AGENT_CAPABILITIES = [
  "exec",
  "exec.signal",
  "exec.timeout",
  "exec.stdin",
  "exec.pty",
  "exec.user",
  "changes",
];

/** Name and version announced in the hello. */
export const AGENT_SOFTWARE = "agentbox-agent/0.1.0";

/** Most concurrent streams one connection may have open. */
export const MAX_STREAMS = 256;

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
export async function serveConnection(duplex: Duplex): Promise<void> {
  const conn = new Connection(duplex, { strictStreams: false });
  const running = new Map<number, RunningExec>();
  let greeted = false;

  conn.start((message) => {
    if (!greeted) {
      greeted = checkHello(conn, message);
      return;
    }
    handle(conn, running, message);
  });
  await conn.send(helloMessage("agent", AGENT_CAPABILITIES, AGENT_SOFTWARE)).catch(() => {});
  await conn.closed;
  for (const exec of running.values()) exec.signal("SIGKILL");
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

function handle(conn: Connection, running: Map<number, RunningExec>, message: Message): void {
  switch (message.type) {
    case "exec.start":
      return start(conn, running, message);
    case "changes.start":
      sendChanges(conn, message).catch((error) => {
        const e = error instanceof ProtocolError
          ? error
          : new ProtocolError("internal", String(error));
        refuse(conn, e.code, e.message, message.stream);
      });
      return;
    case "exec.signal":
      running.get(message.stream)?.signal(message.signal);
      return;
    case "exec.resize":
      // Like a signal, a resize for a stream that has ended is dropped.
      running.get(message.stream)?.resize(message);
      return;
    case "error":
      if (message.stream === undefined) conn.close();
      else running.get(message.stream)?.signal("SIGKILL");
      return;
    default:
      refuse(conn, "bad_message", `The agent does not accept ${message.type}`);
  }
}

function start(conn: Connection, running: Map<number, RunningExec>, message: ExecStart): void {
  const stream = message.stream;
  if (running.has(stream)) {
    return refuse(conn, "stream_exists", `Stream ${stream} is already in use`, stream);
  }
  if (running.size >= MAX_STREAMS) {
    return refuse(conn, "too_many_streams", `At most ${MAX_STREAMS} streams may run`, stream);
  }
  try {
    const exec = startExec(conn, message);
    running.set(stream, exec);
    exec.done.finally(() => running.delete(stream));
  } catch (error) {
    const e = error instanceof ProtocolError
      ? error
      : new ProtocolError("spawn_failed", String(error));
    refuse(conn, e.code, e.message, stream);
  }
}

function refuse(
  conn: Connection,
  code: ProtocolError["code"],
  message: string,
  stream?: number,
): void {
  conn.send({ type: "error", stream, code, message }).catch(() => {});
}
