/**
 * The control socket's relays for what is not a command: copying files (`files.read`,
 * `files.write`) and forwarded connections (`port.open`) go from a client, through the session's
 * owner, onto its one connection to the guest agent, each on a stream of its own; a forward is the
 * owner's own work (`session.forward`). The client's bytes and the agent's are piped through with
 * both connections' flow control; nothing is buffered beyond a window.
 *
 * @module
 */

import {
  type Connection,
  type FilesRead,
  type FilesWrite,
  type PortOpen,
  sendRefusal,
  type SessionForward,
} from "@agentbox/protocol";
import { type AgentClient, AgentError, type ForwardAddress } from "../channel/agent_client.ts";

/** What a relay leaves behind to end when its client hangs up. */
export type Cleanups = Map<number, () => void>;

function refuse(conn: Connection, stream: number, error: unknown, fallback = "internal"): void {
  const code = error instanceof AgentError ? error.code : fallback;
  const message = error instanceof Error ? error.message : String(error);
  sendRefusal(conn, code as AgentError["code"], message, stream);
}

/** Relay a `files.read`: the agent's files stream to the client, then `files.done`. */
export function relayFilesRead(conn: Connection, agent: AgentClient, request: FilesRead): void {
  const stream = request.stream;
  const { data, entries } = agent.readFiles(request.path);
  (async () => {
    // The agent's refusal cuts its data short: its reason, not the cut pipe's, is the answer.
    const [piped, count] = await Promise.allSettled([
      data.pipeTo(conn.transmit(stream, 1)),
      entries,
    ]);
    if (count.status === "rejected") throw count.reason;
    if (piped.status === "rejected") throw piped.reason;
    await conn.send({ type: "files.done", stream, entries: count.value });
  })().catch((error) => refuse(conn, stream, error)).finally(() => conn.forget(stream));
}

/** Relay a `files.write`: the client's files stream to the agent (as `user` unless it names one). */
export function relayFilesWrite(
  conn: Connection,
  agent: AgentClient,
  request: FilesWrite,
  user: string | undefined,
): void {
  const stream = request.stream;
  agent.writeFiles(request.path, conn.receive(stream, 0), { user: request.user ?? user })
    .then((entries) => conn.send({ type: "files.done", stream, entries }))
    .catch((error) => refuse(conn, stream, error))
    .finally(() => conn.forget(stream));
}

/** Relay a `port.open`: a connection to the guest's port, both ways, until it closes. */
export function relayPort(
  conn: Connection,
  agent: AgentClient,
  request: PortOpen,
  cleanups: Cleanups,
): void {
  const stream = request.stream;
  const input = conn.receive(stream, 0);
  (async () => {
    const port = await agent.openPort(request.port);
    cleanups.set(stream, port.reset);
    await conn.send({ type: "port.opened", stream });
    input.pipeTo(port.writable).catch(() => port.reset());
    port.readable.pipeTo(conn.transmit(stream, 1)).catch(() => port.reset());
    await port.closed;
    await conn.send({ type: "port.closed", stream });
  })().catch((error) => {
    input.cancel().catch(() => {});
    refuse(conn, stream, error);
  }).finally(() => {
    cleanups.delete(stream);
    conn.forget(stream);
  });
}

/** Answer a `session.forward` with what `forward` opened (or found). */
export function relayForward(
  conn: Connection,
  forward: ((request: SessionForward) => Promise<ForwardAddress>) | undefined,
  request: SessionForward,
): void {
  const stream = request.stream;
  if (!forward) {
    return sendRefusal(conn, "unknown_type", "This session cannot forward ports", stream);
  }
  forward(request).then(
    (address) => conn.send({ type: "session.forward.done", stream, ...address }),
    (error) => refuse(conn, stream, error, "forward_failed"),
  ).catch(() => {});
}
