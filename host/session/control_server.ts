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
  type CollectScope,
  Connection,
  type ExecStart,
  helloMessage,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
  sendRefusal,
  type SessionAttach,
  type SessionCollect,
  type SessionForward,
  type SessionSnapshot,
} from "@agentbox/protocol";
import {
  type AgentClient,
  AgentError,
  type ExecHandle,
  type ExecRequest,
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
import { type CommandConsole, MAX_LAG_BYTES } from "./command_console.ts";

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

/**
 * What the owner does itself when a client asks (`session.snapshot`, `.attach`, `.stop`,
 * `.forward`, `.collect`).
 */
export interface OwnerOperations {
  /** Save a snapshot into the empty directory `dir`; one at a time. */
  saveSnapshot?(dir: string): Promise<void>;
  /** The console of the session's command, for `session.attach` (none: refused). */
  commandConsole?: CommandConsole;
  /** Stop the session, giving its commands `graceMs` between SIGTERM and SIGKILL. */
  stop?(graceMs: number): void;
  /** Forward a host port into the guest (`session.forward`); where it listens. */
  forwardPort?(request: SessionForward): Promise<ForwardAddress>;
  /** Collect and store the changes of `scope` now (`session.collect`); how many records. */
  collect?(scope: CollectScope): Promise<number>;
  /**
   * Told of every command a client starts (the request as sent to the agent, defaults applied)
   * with its handle (the audit trail's `exec.started`/`exec.finished`). Must not throw.
   */
  onExec?(request: ExecRequest, run: ExecHandle): void;
}

/** Capability announced by an owner that serves `session.attach` and `session.stop`. */
export const ATTACH_CAPABILITY = "session.attach";

/** A serving control socket. */
export interface ControlServer {
  /** Send `signal` to every command the clients started (not the console's command). */
  signalAll(signal: Deno.Signal): void;
  /** Resolves once no client's command is running. */
  idle(): Promise<void>;
  /**
   * Resolves once a client has come and every client has gone again (a one-shot sandbox served
   * to one CLI: host/api/warm_exec.ts).
   */
  deserted(): Promise<void>;
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
  const execs = new Set<ExecHandle>();
  const deserted = Promise.withResolvers<void>();
  const accepting = (async () => {
    for await (const socket of listener) {
      if (clients.size >= MAX_CLIENTS) {
        socket.close();
        continue;
      }
      const conn = new Connection(socket, { strictStreams: false });
      clients.add(conn);
      const done = serveClient(conn, { agent, defaults, operations: serialized, execs }).finally(
        () => {
          clients.delete(conn);
          served.delete(done);
          if (clients.size === 0) deserted.resolve();
        },
      );
      served.add(done);
    }
  })().catch(() => {});
  return {
    signalAll(signal) {
      for (const run of execs) run.signal(signal).catch(() => {});
    },
    deserted: () => deserted.promise,
    async idle() {
      while (execs.size > 0) {
        await Promise.allSettled([...execs].map((run) => run.result));
      }
    },
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
  /** Every client's running commands. */
  execs: Set<ExecHandle>;
}

/** One client's attachments to the console, by stream: how to resize, how to leave. */
type Attachments = Map<
  number,
  { resize(size: { rows: number; cols: number }): void; leave(): void }
>;

/** Serve one client until it hangs up; then kill what it left running. */
async function serveClient(conn: Connection, served: Served) {
  const { agent } = served;
  const running = new Map<number, ExecHandle>();
  const attached: Attachments = new Map();
  const cleanups: Cleanups = new Map();
  let greeted = false;
  conn.start((message) => {
    if (!greeted) {
      checkHello(message);
      greeted = true;
      return;
    }
    handle(conn, served, { running, attached }, message, cleanups);
  });
  const capabilities = [
    ...agent.hello.capabilities.filter((c) => c !== "changes"),
    ATTACH_CAPABILITY,
  ];
  await conn.send(helloMessage("agent", capabilities, SESSION_SOFTWARE)).catch(() => {});
  await conn.closed;
  for (const run of running.values()) run.signal("SIGKILL").catch(() => {});
  // Detaching leaves the console's command running.
  for (const attachment of attached.values()) attachment.leave();
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
  { running, attached }: { running: Map<number, ExecHandle>; attached: Attachments },
  message: Message,
  cleanups: Cleanups,
): void {
  switch (message.type) {
    case "exec.start":
      if (attached.has(message.stream)) {
        return sendRefusal(conn, "stream_exists", `Stream ${message.stream} is in use`);
      }
      return relayExec(conn, served, running, message);
    case "exec.signal":
      // A signal to the console's command goes through its terminal (Ctrl-C) or `stop`.
      running.get(message.stream)?.signal(message.signal).catch(() => {});
      return;
    case "exec.resize":
      running.get(message.stream)?.resize(message).catch(() => {});
      attached.get(message.stream)?.resize(message);
      return;
    case "error":
      if (message.stream === undefined) conn.close();
      else {
        running.get(message.stream)?.signal("SIGKILL").catch(() => {});
        attached.get(message.stream)?.leave();
      }
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
    case "session.collect":
      return collectNow(conn, served.operations, message);
    case "session.attach":
      if (running.has(message.stream) || attached.has(message.stream)) {
        return sendRefusal(conn, "stream_exists", `Stream ${message.stream} is in use`);
      }
      return attach(conn, served.operations.commandConsole, attached, message);
    case "session.stop":
      if (!served.operations.stop) {
        return sendRefusal(conn, "unknown_type", "This session cannot be stopped from here");
      }
      return served.operations.stop(message.graceMs);
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
  { agent, defaults, execs, operations }: Served,
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
  const request: ExecRequest = {
    argv: start.argv,
    env: { ...defaults.env, ...start.env },
    cwd: start.cwd ?? defaults.cwd,
    user: start.user ?? defaults.user,
    stdin: start.stdin ? conn.receive(stream, 0) : undefined,
    timeoutMs: start.timeoutMs,
    pty: start.pty,
  };
  const run = agent.exec(request);
  operations.onExec?.(request, run);
  running.set(stream, run);
  execs.add(run);
  run.result.catch(() => {}).finally(() => execs.delete(run)); // A failed start rejects both; the start is what is reported.
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
  const collect = operations.collect;
  return {
    ...operations,
    saveSnapshot: save && ((dir) => queue(() => save(dir))),
    collect: collect && ((scope) => queue(() => collect(scope))),
  };
}

/**
 * Attach the client to the console as `request` asks: `exec.started`, the scrollback and live
 * output on fd 1, its typing on fd 0 unless read-only, `exec.exit` when the command ends.
 */
function attach(
  conn: Connection,
  commandConsole: CommandConsole | undefined,
  attached: Attachments,
  request: SessionAttach,
): void {
  const { stream, readOnly } = request;
  if (!commandConsole) {
    return sendRefusal(
      conn,
      "no_command",
      "This session runs no command to attach to (it was started without one): use " +
        "`agentbox shell`",
      stream,
    );
  }
  const out = conn.transmit(stream, 1).getWriter();
  conn.transmit(stream, 2).close().catch(() => {});
  const input = readOnly ? undefined : conn.receive(stream, 0);
  let lag = 0;
  let left = false;
  let unwatch = () => {};
  const leave = () => {
    if (left) return;
    left = true;
    unwatch();
    attached.delete(stream);
    input?.cancel().catch(() => {});
    out.abort().catch(() => {});
    conn.forget(stream);
  };
  attached.set(stream, {
    resize: (size) => {
      if (!readOnly) commandConsole.resize(size);
    },
    leave,
  });
  (async () => {
    const pid = await commandConsole.started;
    if (left) return;
    await conn.send({ type: "exec.started", stream, pid });
    if (!readOnly && request.rows !== undefined && request.cols !== undefined) {
      commandConsole.resize({ rows: request.rows, cols: request.cols });
    }
    unwatch = commandConsole.watch({
      write(chunk) {
        if (left) return false;
        if (lag + chunk.length > MAX_LAG_BYTES) {
          sendRefusal(conn, "flow_violation", "Detached: the client fell too far behind", stream);
          queueMicrotask(leave);
          return false;
        }
        lag += chunk.length;
        out.write(chunk).then(() => lag -= chunk.length, () => {});
        return true;
      },
      end({ result }) {
        if (left) return;
        (async () => {
          await out.close();
          if (result) await conn.send({ type: "exec.exit", stream, ...result });
          else sendRefusal(conn, "closed", "The session's command could not run", stream);
        })().catch(() => {}).finally(() => {
          attached.delete(stream);
          left = true;
          conn.forget(stream);
        });
      },
    });
    if (input) {
      for await (const chunk of input) commandConsole.type(chunk);
    }
  })().catch(() => leave());
}

/** Collect the changes `request` asks for, answering `session.collect.done` or an error. */
function collectNow(
  conn: Connection,
  operations: OwnerOperations,
  request: SessionCollect,
): void {
  const stream = request.stream;
  const collect = operations.collect;
  if (!collect) {
    return sendRefusal(conn, "unknown_type", "This session cannot collect its changes", stream);
  }
  collect(request.scope).then(
    (entries) => conn.send({ type: "session.collect.done", stream, entries }),
    (error) => {
      const message = error instanceof Error ? error.message : "unknown failure";
      sendRefusal(conn, "collect_failed", `Cannot collect the changes: ${message}`, stream);
    },
  ).catch(() => {}).finally(() => conn.forget(stream));
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
