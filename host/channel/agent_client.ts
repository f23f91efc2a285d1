/**
 * The host's client for the guest agent: handshake, then any number of concurrent execs over one
 * connection. Everything the agent sends is validated; a misbehaving agent closes the connection
 * and fails every pending exec with an {@linkcode AgentError}, it never crashes or hangs the host.
 *
 * @module
 */

import { AgentboxError } from "../agentbox_error.ts";
import {
  type ChangesScope,
  type CollectScope,
  Connection,
  type Duplex,
  type ExecExit,
  FRAME_TIMEOUT_MS,
  type Hello,
  helloMessage,
  type Message,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorCode,
  type PtySpec,
} from "@agentbox/protocol";
import { VERSION } from "../version.ts";

/** Host software name announced in the hello. */
export const HOST_SOFTWARE = `agentbox/${VERSION}`;

/**
 * The host's hello: with the wall clock, which the agent sets the guest's clock from, and fresh
 * entropy for the guest's random generator — what a VM restored from a snapshot lacks.
 */
function hostHello(): Hello {
  return {
    ...helloMessage("host", ["exec"], HOST_SOFTWARE),
    time: Date.now(),
    entropy: crypto.getRandomValues(new Uint8Array(32)),
  };
}

/**
 * How long the host waits for the agent, in milliseconds (docs/protocol.md, "Deadlines"). The
 * guest is hostile: it may answer nothing, half a frame, or a trickle, and every wait on it ends.
 * When one passes, the connection is closed and whatever waited fails with {@linkcode AgentError}
 * `timed_out`, saying what the agent did not do; the VM's owner then stops the VM.
 */
export interface AgentDeadlines {
  /** From a frame's first byte to its last. */
  frameMs: number;
  /** From `exec.start` to `exec.started` (or the agent's refusal). */
  answerMs: number;
  /** Longest silence while the workspace's changes are being sent, up to `changes.done`. */
  changesIdleMs: number;
  /** The whole transfer of the workspace's changes. */
  changesTotalMs: number;
  /** A command the host runs itself in the guest (setup, files), start to exit. */
  hostCommandMs: number;
}

/** The defaults of {@linkcode AgentDeadlines}. */
export const AGENT_DEADLINES: Readonly<AgentDeadlines> = {
  frameMs: FRAME_TIMEOUT_MS,
  answerMs: 60_000,
  // The scan of a large upper layer may take a while before it sends a batch, under emulation.
  changesIdleMs: 120_000,
  // 16 GiB (the default upper disk) crosses virtio-serial in about 10 minutes under TCG.
  changesTotalMs: 30 * 60_000,
  hostCommandMs: 120_000,
};

/** Options of {@linkcode AgentClient.changes}. */
export interface ChangesOptions {
  /** Wall-clock time (ms since the epoch) by which the transfer must be complete. */
  deadline?: number;
  /** What to scan (default `workspace`); the others need the agent's `changes.system`. */
  scope?: ChangesScope;
  /** `system`: relative paths left out of the scan with everything under them. */
  exclude?: string[];
  /** `system-base`: the relative paths to report as the image has them. */
  paths?: string[];
}

/** Options of {@linkcode AgentClient.connect} and {@linkcode AgentClient.reconnect}. */
export interface ConnectOptions {
  /** Give up waiting for the agent's hello when it aborts. */
  signal?: AbortSignal;
  /** Override some of the {@linkcode AGENT_DEADLINES}. */
  deadlines?: Partial<AgentDeadlines>;
}

/** A failure reported by, or caused by, the agent. `code` is the protocol's error code. */
export class AgentError extends AgentboxError {
  declare readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, {
      ...options,
      kind: code === "spawn_failed" ? "command_not_found" : "guest",
      code,
    });
    this.name = "AgentError";
  }
}

/** What to run. */
export interface ExecRequest {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Bytes for the command's stdin; omitted means an empty stdin. */
  stdin?: ReadableStream<Uint8Array>;
  /** Kill the process group after this many milliseconds. */
  timeoutMs?: number;
  /**
   * Give up on the agent when the command has not ended within this many milliseconds: the
   * connection is closed and the exec fails with {@linkcode AgentError} `timed_out`. For the
   * commands the host runs itself (setup, files; see {@linkcode AGENT_DEADLINES.hostCommandMs}),
   * which a guest could otherwise leave running forever; a user's command uses `timeoutMs`.
   */
  deadlineMs?: number;
  /**
   * Run on a pseudo-terminal of this size: the output, echo included, all comes on `stdout`
   * (`stderr` ends empty) and `stdin` is what the user types. Needs an agent that announced
   * `exec.pty`; otherwise the exec fails with {@linkcode AgentError} `version_mismatch`.
   */
  pty?: PtySpec;
  /**
   * Run as this user of the guest (e.g. `agent`) instead of root. Needs an agent that announced
   * `exec.user`; otherwise the exec fails with {@linkcode AgentError} `version_mismatch`.
   */
  user?: string;
}

/** How a command ended. */
export interface ExecResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: Deno.Signal | null;
  timedOut: boolean;
}

/** A running command. Read `stdout` and `stderr` (both, or cancel them) to keep it flowing. */
export interface ExecHandle {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves with the pid once the agent started the process. */
  started: Promise<number>;
  /** Resolves when the command ends; rejects with {@linkcode AgentError} if it cannot run. */
  result: Promise<ExecResult>;
  /** Forward a signal to the command's process group. */
  signal(signal: Deno.Signal): Promise<void>;
  /** Tell the command's terminal its new size (only with `pty`). */
  resize(size: { rows: number; cols: number }): Promise<void>;
}

/** A connection to a port in the guest, carried over the agent channel. */
export interface PortConnection {
  /** The guest server's bytes; ends when it closes its side. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes for the guest's server; closing it half-closes the connection. */
  writable: WritableStream<Uint8Array>;
  /** Resolves when the agent closed the connection (both directions ended, or a reset). */
  closed: Promise<void>;
  /** Reset the connection; `closed` follows. */
  reset(): void;
}

/** Where a session's forward listens on the host. */
export interface ForwardAddress {
  hostname: string;
  hostPort: number;
}

interface PendingPort {
  opened: PromiseWithResolvers<void>;
  closed: PromiseWithResolvers<void>;
  isOpen?: boolean;
  answer?: ReturnType<typeof setTimeout>;
}

interface Pending {
  started: PromiseWithResolvers<number>;
  result: PromiseWithResolvers<ExecResult>;
  isStarted: boolean;
  /** Runs out when the agent does not answer `exec.start` in time. */
  answer?: ReturnType<typeof setTimeout>;
}

/**
 * A connected, greeted agent.
 *
 * @example
 * ```ts
 * import { AgentClient } from "./agent_client.ts";
 * const socket = await Deno.connect({ transport: "unix", path: "/tmp/agent.sock" });
 * const agent = await AgentClient.connect(socket);
 * const run = agent.exec({ argv: ["echo", "hi"] });
 * console.log(await new Response(run.stdout).text(), await run.result);
 * ```
 */
export class AgentClient {
  readonly #conn: Connection;
  readonly #pending = new Map<number, Pending>();
  readonly #changes = new Map<number, PromiseWithResolvers<number>>();
  readonly #snapshots = new Map<number, PromiseWithResolvers<void>>();
  readonly #collects = new Map<number, PromiseWithResolvers<number>>();
  readonly #ports = new Map<number, PendingPort>();
  readonly #forwards = new Map<number, PromiseWithResolvers<ForwardAddress>>();
  readonly #deadlines: AgentDeadlines;
  /** The agent's answer to {@linkcode AgentClient.rehello}, while one is awaited. */
  #rehello?: PromiseWithResolvers<Hello>;
  #nextStream = 1;
  /** The agent's hello. */
  readonly hello: Hello;

  private constructor(conn: Connection, hello: Hello, deadlines: AgentDeadlines) {
    this.#conn = conn;
    this.hello = hello;
    this.#deadlines = deadlines;
  }

  /**
   * Wait for the agent's hello (it speaks first), check the version, answer with ours.
   * Rejects with {@linkcode AgentError} on a bad or missing hello.
   */
  static connect(duplex: Duplex, options: ConnectOptions = {}): Promise<AgentClient> {
    return AgentClient.#greet(duplex, false, options);
  }

  /**
   * Greet an agent whose connection already saw another host: a VM restored from a snapshot,
   * whose agent kept its end open while the host's side was a different QEMU. The host speaks
   * first; the agent drops what the previous host started and answers with its hello (see
   * docs/protocol.md, "Restored VMs"). Rejects like {@linkcode AgentClient.connect}.
   *
   * @example
   * ```ts
   * import { AgentClient } from "./agent_client.ts";
   * const socket = await Deno.connect({ transport: "unix", path: "/run/vm/agent.sock" });
   * const agent = await AgentClient.reconnect(socket);
   * ```
   */
  static reconnect(duplex: Duplex, options: ConnectOptions = {}): Promise<AgentClient> {
    return AgentClient.#greet(duplex, true, options);
  }

  static async #greet(
    duplex: Duplex,
    speakFirst: boolean,
    options: ConnectOptions,
  ): Promise<AgentClient> {
    const { signal } = options;
    const deadlines = { ...AGENT_DEADLINES, ...options.deadlines };
    const conn = new Connection(duplex, {
      strictStreams: true,
      frameTimeoutMs: deadlines.frameMs,
    });
    const greeting = Promise.withResolvers<Hello>();
    let client: AgentClient | undefined;
    conn.start((message) => {
      if (client) return client.#dispatch(message);
      if (message.type !== "hello" || message.role !== "agent") {
        conn.close(new ProtocolError("bad_message", `Agent sent ${message.type} before its hello`));
      } else greeting.resolve(message);
    });
    conn.closed.then((reason) => greeting.reject(asAgentError(reason)));
    const onAbort = () => conn.close(new ProtocolError("closed", "Gave up waiting for the agent"));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const sendHello = () =>
      conn.send(hostHello()).catch((e) => {
        throw asAgentError(e);
      });
    try {
      if (speakFirst) await sendHello();
      const hello = await greeting.promise;
      if (hello.version !== PROTOCOL_VERSION) {
        const error = new AgentError(
          "version_mismatch",
          `The image's agent speaks protocol ${hello.version}, this agentbox speaks ` +
            `${PROTOCOL_VERSION}: rebuild the image with \`agentbox images build\``,
        );
        conn.send({ type: "error", code: error.code, message: error.message }).catch(() => {});
        conn.close();
        throw error;
      }
      client = new AgentClient(conn, hello, deadlines);
      conn.closed.then((reason) => client!.#failAll(reason));
      if (!speakFirst) await sendHello();
      return client;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Settles when the connection ends, with the reason (undefined on a clean close). */
  get closed(): Promise<Error | undefined> {
    return this.#conn.closed;
  }

  /** Start a command. */
  exec(request: ExecRequest): ExecHandle {
    const stream = this.#nextStream++;
    const pending = this.#newPending(stream);
    const missing = missingCapability(request, this.hello.capabilities);
    if (missing) return this.#refuse(stream, pending, missing, request.stdin);
    const handle = this.#open(stream, pending, {
      type: "exec.start",
      stream,
      argv: request.argv,
      env: request.env ?? {},
      cwd: request.cwd,
      stdin: request.stdin !== undefined,
      timeoutMs: request.timeoutMs,
      pty: request.pty,
      user: request.user,
    }, request.stdin);
    if (request.deadlineMs !== undefined) {
      const ms = request.deadlineMs;
      const overall = setTimeout(() => {
        const name = JSON.stringify(request.argv[0]).slice(0, 60);
        this.#giveUp(`The agent did not run ${name} to its end within ${seconds(ms)}`);
      }, ms);
      pending.result.promise.catch(() => {}).finally(() => clearTimeout(overall));
    }
    return handle;
  }

  /**
   * Attach to the command of the session this client is connected to (its owner's control
   * socket; see `session.attach` in the protocol): `stdout` is the command's terminal, its
   * scrollback first; `stdin`, unless `readOnly`, is typed into it; `result` resolves when the
   * command ends. Closing the client detaches. Rejects with {@linkcode AgentError}
   * `no_command` when the session runs none, `version_mismatch` when the peer cannot attach.
   */
  attach(
    request: {
      readOnly: boolean;
      size?: { rows: number; cols: number };
      stdin?: ReadableStream<Uint8Array>;
    },
  ): ExecHandle {
    const stream = this.#nextStream++;
    const pending = this.#newPending(stream);
    if (!this.hello.capabilities.includes("session.attach")) {
      return this.#refuse(stream, pending, "attach to a session's command", request.stdin);
    }
    const stdin = request.readOnly ? undefined : request.stdin;
    if (request.readOnly) request.stdin?.cancel().catch(() => {});
    return this.#open(stream, pending, {
      type: "session.attach",
      stream,
      readOnly: request.readOnly,
      ...request.size,
    }, stdin);
  }

  /**
   * Ask the session's owner to stop (`session.stop`): SIGTERM to its commands, `graceMs` for
   * them to end, then SIGKILL. Resolves once the request is sent; the owner does not answer.
   */
  async stopSession(graceMs: number): Promise<void> {
    const stream = this.#nextStream++;
    await this.#conn.send({ type: "session.stop", stream, graceMs }).catch((e) => {
      throw asAgentError(e);
    });
  }

  #newPending(stream: number): Pending {
    const pending: Pending = {
      started: Promise.withResolvers<number>(),
      result: Promise.withResolvers<ExecResult>(),
      isStarted: false,
    };
    // Callers that only await `result` must not see an unhandled rejection from `started`.
    pending.started.promise.catch(() => {});
    this.#pending.set(stream, pending);
    return pending;
  }

  /** An exec that never starts: the peer lacks what it needs (`version_mismatch`). */
  #refuse(
    stream: number,
    pending: Pending,
    what: string,
    stdin?: ReadableStream<Uint8Array>,
  ): ExecHandle {
    this.#fail(
      stream,
      new AgentError(
        "version_mismatch",
        `The image's agent cannot ${what}: rebuild the image with \`agentbox images build\``,
      ),
    );
    stdin?.cancel().catch(() => {});
    const empty = () => new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    const refused = () => Promise.reject(new AgentError("closed", "The exec did not start"));
    return {
      stdout: empty(),
      stderr: empty(),
      started: pending.started.promise,
      result: pending.result.promise,
      signal: refused,
      resize: refused,
    };
  }

  /** Send `start` on `stream` and return the handle of what it starts. */
  #open(
    stream: number,
    pending: Pending,
    start: Message,
    stdin?: ReadableStream<Uint8Array>,
  ): ExecHandle {
    const stdout = this.#conn.receive(stream, 1);
    const stderr = this.#conn.receive(stream, 2);
    pending.answer = setTimeout(() => {
      this.#giveUp(
        `The agent did not answer ${start.type} within ${seconds(this.#deadlines.answerMs)}`,
      );
    }, this.#deadlines.answerMs);
    this.#conn.send(start).catch((e) => this.#fail(stream, asAgentError(e)));
    if (stdin) stdin.pipeTo(this.#conn.transmit(stream, 0)).catch(() => {});
    return {
      stdout,
      stderr,
      started: pending.started.promise,
      result: pending.result.promise,
      signal: (signal) =>
        this.#conn.send({ type: "exec.signal", stream, signal }).catch((e) => {
          throw asAgentError(e);
        }),
      resize: ({ rows, cols }) =>
        this.#conn.send({ type: "exec.resize", stream, rows, cols }).catch((e) => {
          throw asAgentError(e);
        }),
    };
  }

  /**
   * Ask for the workspace's changes (or, with `options.scope`, the root filesystem's: see
   * {@linkcode ChangesOptions}). `data` is the changes stream (read it with
   * `readChangesStream`); `entries` resolves with the count the agent says it sent once the
   * stream is complete, and rejects with {@linkcode AgentError} (`no_workspace` when none is
   * shared). The transfer is bounded by the `changesIdleMs` and `changesTotalMs` deadlines, and
   * by `options.deadline` (wall-clock ms) when that comes sooner: past one, both fail with
   * `timed_out` and the connection is closed.
   */
  changes(
    options: ChangesOptions = {},
  ): { data: ReadableStream<Uint8Array>; entries: Promise<number> } {
    const { scope, exclude, paths } = options;
    return this.#download(
      (stream) => ({ type: "changes.start", stream, scope, exclude, paths }),
      scope === undefined || scope === "workspace"
        ? "the workspace's changes"
        : "the system's changes",
      options.deadline,
    );
  }

  /**
   * Ask for the guest path `path` (absolute) as a files stream (docs/protocol.md, `files.read`):
   * read `data` with `readChangesStream`; `entries` resolves with the count the agent says it
   * sent, and rejects with {@linkcode AgentError} (`files_failed` when the path cannot be read,
   * `version_mismatch` from an agent without `files`). Bounded like {@linkcode changes}.
   */
  readFiles(path: string): { data: ReadableStream<Uint8Array>; entries: Promise<number> } {
    if (!this.hello.capabilities.includes("files")) {
      const refused = Promise.reject(missingFeature("copy files"));
      refused.catch(() => {});
      return { data: new ReadableStream({ start: (c) => c.close() }), entries: refused };
    }
    return this.#download((stream) => ({ type: "files.read", stream, path }), path);
  }

  /**
   * Write the files stream `data` to the guest path `path` (absolute; `files.write`), new files
   * owned by `options.user` when given. Resolves with the entries the agent wrote; rejects with
   * {@linkcode AgentError} (`files_failed`, `version_mismatch`). The whole transfer is bounded by
   * the `changesTotalMs` deadline.
   */
  writeFiles(
    path: string,
    data: ReadableStream<Uint8Array>,
    options: { user?: string } = {},
  ): Promise<number> {
    if (!this.hello.capabilities.includes("files")) {
      data.cancel().catch(() => {});
      return Promise.reject(missingFeature("copy files"));
    }
    const stream = this.#nextStream++;
    const done = Promise.withResolvers<number>();
    this.#changes.set(stream, done);
    const totalMs = this.#deadlines.changesTotalMs;
    const total = setTimeout(() => {
      this.#giveUp(`The agent did not finish writing ${path} within ${seconds(totalMs)}`);
    }, totalMs);
    done.promise.catch(() => {}).finally(() => clearTimeout(total));
    this.#conn.send({ type: "files.write", stream, path, user: options.user }).catch((e) =>
      this.#failChanges(stream, asAgentError(e))
    );
    data.pipeTo(this.#conn.transmit(stream, 0)).catch(() => {});
    return done.promise;
  }

  /**
   * Open a connection to `port` on the guest's loopback (`port.open`), carried on a stream of
   * this connection: write to `writable` what the guest's server should read, read its answer
   * from `readable`. Rejects with {@linkcode AgentError} `connect_failed` when nothing listens
   * there (`version_mismatch` from an agent without `port`).
   */
  openPort(port: number): Promise<PortConnection> {
    if (!this.hello.capabilities.includes("port")) {
      return Promise.reject(missingFeature("forward ports"));
    }
    const stream = this.#nextStream++;
    const pending: PendingPort = {
      opened: Promise.withResolvers<void>(),
      closed: Promise.withResolvers<void>(),
    };
    pending.closed.promise.catch(() => {});
    this.#ports.set(stream, pending);
    const readable = this.#conn.receive(stream, 1);
    pending.answer = setTimeout(() => {
      this.#giveUp(
        `The agent did not answer port.open within ${seconds(this.#deadlines.answerMs)}`,
      );
    }, this.#deadlines.answerMs);
    this.#conn.send({ type: "port.open", stream, port }).catch((e) =>
      this.#failPort(stream, asAgentError(e))
    );
    return pending.opened.promise.then(() => ({
      readable,
      writable: this.#conn.transmit(stream, 0),
      closed: pending.closed.promise,
      reset: () => {
        if (!this.#ports.has(stream)) return;
        this.#conn.send({
          type: "error",
          stream,
          code: "closed",
          message: "The host closed the connection",
        }).catch(() => {});
      },
    }));
  }

  /** Receive a stream the agent sends on fd 1 after `start`, bounded by the transfer deadlines. */
  #download(
    start: (stream: number) => Message,
    what: string,
    deadline?: number,
  ): { data: ReadableStream<Uint8Array>; entries: Promise<number> } {
    const stream = this.#nextStream++;
    const done = Promise.withResolvers<number>();
    done.promise.catch(() => {});
    this.#changes.set(stream, done);
    const idleMs = this.#deadlines.changesIdleMs;
    const totalMs = Math.max(
      0,
      Math.min(this.#deadlines.changesTotalMs, (deadline ?? Infinity) - Date.now()),
    );
    let received = 0;
    const total = setTimeout(() => {
      this.#giveUp(
        `The agent did not finish sending ${what} within ${seconds(totalMs)} ` +
          `(${received} bytes received)`,
      );
    }, totalMs);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        this.#giveUp(
          `The agent sent nothing for ${seconds(idleMs)} while sending ${what} ` +
            `(${received} bytes received)`,
        );
      }, idleMs);
    };
    quiet();
    done.promise.catch(() => {}).finally(() => {
      clearTimeout(total);
      clearTimeout(idle);
    });
    const data = this.#conn.receive(stream, 1).pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          received += chunk.length;
          quiet();
          controller.enqueue(chunk);
        },
      }),
    );
    this.#conn.send(start(stream)).catch((e) => this.#failChanges(stream, asAgentError(e)));
    return { data, entries: done.promise };
  }

  /**
   * Ask a session's owner (this client is connected to its control socket) to save a snapshot of
   * the session into `dir`, an empty host directory. Rejects with {@linkcode AgentError}:
   * `snapshot_failed`, or `unknown_type` when the peer cannot snapshot (an agent, an old owner).
   */
  saveSessionSnapshot(dir: string): Promise<void> {
    const stream = this.#nextStream++;
    const done = Promise.withResolvers<void>();
    this.#snapshots.set(stream, done);
    this.#conn.send({ type: "session.snapshot", stream, dir }).catch((e) =>
      this.#failSnapshot(stream, asAgentError(e))
    );
    return done.promise;
  }

  /**
   * Ask a session's owner (this client is connected to its control socket) to collect its changes
   * of `scope` now and store them (`session.collect`); resolves with how many records. Rejects
   * with {@linkcode AgentError}: `collect_failed`, or `unknown_type` from a peer that cannot.
   */
  collectSessionChanges(scope: CollectScope): Promise<number> {
    const stream = this.#nextStream++;
    const done = Promise.withResolvers<number>();
    this.#collects.set(stream, done);
    this.#conn.send({ type: "session.collect", stream, scope }).catch((e) =>
      this.#failCollect(stream, asAgentError(e))
    );
    return done.promise;
  }

  /**
   * Ask a session's owner (this client is connected to its control socket) to forward a host port
   * into `guestPort` of its guest (`session.forward`), and resolve with where it listens.
   * `hostname` and `hostPort` absent: the forward of `guestPort` the session has, or a new one on
   * a free loopback port. Rejects with {@linkcode AgentError} `forward_failed`, or
   * `unknown_type` from a peer that cannot forward (an agent, an older owner).
   */
  forwardPort(
    request: { guestPort: number; hostname?: string; hostPort?: number },
  ): Promise<ForwardAddress> {
    const stream = this.#nextStream++;
    const done = Promise.withResolvers<ForwardAddress>();
    this.#forwards.set(stream, done);
    this.#conn.send({ type: "session.forward", stream, ...request }).catch((e) => {
      this.#forwards.delete(stream);
      done.reject(asAgentError(e));
    });
    return done.promise;
  }

  /**
   * Greet the agent again on this connection, as a new host does after a restore: the agent sets
   * the guest's clock and reseeds its random generator from this hello (a VM that was paused has
   * a clock that stood still) and answers with its own. Only with nothing in flight: what this
   * host started would be killed by the agent. Rejects with {@linkcode AgentError} when the agent
   * does not answer in time (`answerMs`) or the connection ends.
   *
   * @example
   * ```ts
   * import type { AgentClient } from "./agent_client.ts";
   * declare const agent: AgentClient;
   * await agent.rehello();
   * ```
   */
  async rehello(): Promise<void> {
    if (this.#rehello || this.#busy()) {
      throw new AgentError("internal", "Cannot greet the agent again while requests are in flight");
    }
    const answer = Promise.withResolvers<Hello>();
    this.#rehello = answer;
    const timer = setTimeout(
      () => answer.reject(new AgentError("timed_out", "The agent did not answer a new hello")),
      this.#deadlines.answerMs,
    );
    try {
      await this.#conn.send(hostHello()).catch((e) => {
        throw asAgentError(e);
      });
      const hello = await Promise.race([
        answer.promise,
        this.#conn.closed.then((reason) => {
          throw asAgentError(reason);
        }),
      ]);
      if (hello.version !== this.hello.version) {
        const error = new AgentError("version_mismatch", "The agent changed its protocol version");
        this.#conn.close(error);
        throw error;
      }
    } finally {
      clearTimeout(timer);
      this.#rehello = undefined;
    }
  }

  /** Hang up; pending execs fail. */
  close(): void {
    this.#conn.close();
  }

  #dispatch(message: Message): void {
    switch (message.type) {
      case "hello":
        if (message.role === "agent" && this.#rehello) return this.#rehello.resolve(message);
        return this.#conn.close(new ProtocolError("bad_message", "Agent sent an unasked hello"));
      case "exec.started":
        return this.#started(message.stream, message.pid);
      case "exec.exit":
        return this.#exited(message);
      case "changes.done":
      case "files.done":
        return this.#changesDone(message.stream, message.entries, message.type);
      case "port.opened":
        return this.#portOpened(message.stream);
      case "port.closed":
        return this.#portClosed(message.stream);
      case "session.forward.done":
        return this.#forwardDone(message.stream, message);
      case "session.snapshot.done":
        return this.#snapshotDone(message.stream);
      case "session.collect.done": {
        const pending = this.#collects.get(message.stream);
        if (!pending) {
          const error = new ProtocolError(
            "unknown_stream",
            `Peer sent session.collect.done for ${message.stream}`,
          );
          this.#conn.close(error);
          throw error;
        }
        this.#collects.delete(message.stream);
        return pending.resolve(message.entries);
      }
      case "error":
        if (message.stream === undefined) {
          return this.#conn.close(new ProtocolError(message.code, `Agent: ${message.message}`));
        }
        if (this.#changes.has(message.stream)) {
          return this.#failChanges(message.stream, new AgentError(message.code, message.message));
        }
        if (this.#collects.has(message.stream)) {
          return this.#failCollect(message.stream, new AgentError(message.code, message.message));
        }
        if (this.#snapshots.has(message.stream)) {
          return this.#failSnapshot(message.stream, new AgentError(message.code, message.message));
        }
        if (this.#ports.has(message.stream)) {
          return this.#failPort(message.stream, new AgentError(message.code, message.message));
        }
        if (this.#forwards.has(message.stream)) {
          const error = new AgentError(message.code, message.message);
          this.#forwards.get(message.stream)!.reject(error);
          return void this.#forwards.delete(message.stream);
        }
        this.#expect(message.stream, message.type);
        return this.#fail(message.stream, new AgentError(message.code, message.message));
      default:
        this.#conn.close(
          new ProtocolError("bad_message", `Agent sent ${message.type}, which only a host sends`),
        );
    }
  }

  #expect(stream: number, type: string): Pending {
    const pending = this.#pending.get(stream);
    if (!pending) {
      const error = new ProtocolError(
        "unknown_stream",
        `Agent sent ${type} for unknown stream ${stream}`,
      );
      this.#conn.close(error);
      throw error;
    }
    return pending;
  }

  /** A deadline passed: hang up, failing everything pending with `timed_out` and `what`. */
  #giveUp(what: string): void {
    this.#conn.close(new AgentError("timed_out", what));
  }

  #started(stream: number, pid: number): void {
    const pending = this.#expect(stream, "exec.started");
    clearTimeout(pending.answer);
    pending.isStarted = true;
    pending.started.resolve(pid);
  }

  #exited(exit: ExecExit): void {
    const pending = this.#expect(exit.stream, "exec.exit");
    if (!pending.isStarted) {
      // A failed start is reported with `error`; an exit for a process never started is forged.
      const error = new ProtocolError(
        "bad_message",
        `Agent sent exec.exit for stream ${exit.stream} before exec.started`,
      );
      this.#conn.close(error);
      throw error;
    }
    this.#pending.delete(exit.stream);
    this.#conn.forget(exit.stream);
    pending.result.resolve({ code: exit.code, signal: exit.signal, timedOut: exit.timedOut });
  }

  #changesDone(stream: number, entries: number, type: string): void {
    const done = this.#changes.get(stream);
    if (!done) {
      const error = new ProtocolError("unknown_stream", `Agent sent ${type} for stream ${stream}`);
      this.#conn.close(error);
      throw error;
    }
    this.#changes.delete(stream);
    this.#conn.forget(stream);
    done.resolve(entries);
  }

  #failChanges(stream: number, error: AgentError): void {
    const done = this.#changes.get(stream);
    if (!done) return;
    this.#changes.delete(stream);
    this.#conn.forget(stream);
    done.reject(error);
  }

  #portOpened(stream: number): void {
    const pending = this.#ports.get(stream);
    if (!pending || pending.isOpen) {
      const error = new ProtocolError("unknown_stream", `Agent sent port.opened for ${stream}`);
      this.#conn.close(error);
      throw error;
    }
    clearTimeout(pending.answer);
    pending.isOpen = true;
    pending.opened.resolve();
  }

  #portClosed(stream: number): void {
    const pending = this.#ports.get(stream);
    if (!pending?.isOpen) {
      const error = new ProtocolError("unknown_stream", `Agent sent port.closed for ${stream}`);
      this.#conn.close(error);
      throw error;
    }
    this.#ports.delete(stream);
    this.#conn.forget(stream);
    pending.closed.resolve();
  }

  #failPort(stream: number, error: AgentError): void {
    const pending = this.#ports.get(stream);
    if (!pending) return;
    this.#ports.delete(stream);
    clearTimeout(pending.answer);
    this.#conn.forget(stream);
    pending.opened.reject(error);
    pending.closed.reject(error);
  }

  #forwardDone(stream: number, done: ForwardAddress): void {
    const pending = this.#forwards.get(stream);
    if (!pending) {
      const error = new ProtocolError(
        "unknown_stream",
        `Peer sent session.forward.done for ${stream}`,
      );
      this.#conn.close(error);
      throw error;
    }
    this.#forwards.delete(stream);
    pending.resolve({ hostname: done.hostname, hostPort: done.hostPort });
  }

  #snapshotDone(stream: number): void {
    const done = this.#snapshots.get(stream);
    if (!done) {
      const error = new ProtocolError(
        "unknown_stream",
        `Peer sent session.snapshot.done for ${stream}`,
      );
      this.#conn.close(error);
      throw error;
    }
    this.#snapshots.delete(stream);
    done.resolve();
  }

  #failCollect(stream: number, error: AgentError): void {
    this.#collects.get(stream)?.reject(error);
    this.#collects.delete(stream);
  }

  #failSnapshot(stream: number, error: AgentError): void {
    this.#snapshots.get(stream)?.reject(error);
    this.#snapshots.delete(stream);
  }

  #fail(stream: number, error: AgentError): void {
    const pending = this.#pending.get(stream);
    if (!pending) return;
    this.#pending.delete(stream);
    clearTimeout(pending.answer);
    this.#conn.forget(stream);
    pending.started.reject(error);
    pending.result.reject(error);
  }

  #busy(): boolean {
    return this.#pending.size + this.#changes.size + this.#snapshots.size + this.#collects.size +
        this.#ports.size + this.#forwards.size > 0;
  }

  #failAll(reason: Error | undefined): void {
    const error = asAgentError(reason);
    for (const stream of [...this.#pending.keys()]) this.#fail(stream, error);
    for (const stream of [...this.#changes.keys()]) this.#failChanges(stream, error);
    for (const stream of [...this.#snapshots.keys()]) this.#failSnapshot(stream, error);
    for (const stream of [...this.#collects.keys()]) this.#failCollect(stream, error);
    for (const stream of [...this.#ports.keys()]) this.#failPort(stream, error);
    for (const pending of this.#forwards.values()) pending.reject(error);
    this.#forwards.clear();
  }
}

function asAgentError(reason: unknown): AgentError {
  if (reason instanceof AgentError) return reason;
  if (reason instanceof ProtocolError) {
    return new AgentError(reason.code, reason.message, { cause: reason });
  }
  if (reason === undefined) return new AgentError("closed", "The agent closed the connection");
  return new AgentError("closed", `Lost the connection to the agent: ${reason}`, { cause: reason });
}

function missingFeature(what: string): AgentError {
  return new AgentError(
    "version_mismatch",
    `The image's agent cannot ${what}: rebuild the image with \`agentbox images build\``,
  );
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** What `request` needs that an agent with `capabilities` cannot do, in words; else undefined. */
function missingCapability(request: ExecRequest, capabilities: string[]): string | undefined {
  if (request.pty && !capabilities.includes("exec.pty")) return "run commands on a terminal";
  if (request.user !== undefined && !capabilities.includes("exec.user")) {
    return "run commands as another user";
  }
  return undefined;
}
