/**
 * The processes an E2B sandbox's clients started, tracked by the server (envd's process table):
 * each is a command run through the session's agent, its output fanned out to every client
 * connected to it (the one that started it, and any that `Connect`ed later), its stdin fed by
 * `SendInput`, its terminal resized by `Update`. A process leaves the table when it ends.
 *
 * @module
 */

import type { ExecHandle, ExecRequest, ExecResult } from "../../channel/agent_client.ts";
import { AgentboxError } from "../../agentbox_error.ts";

/** What started a process, as `List` reports it. */
export interface ProcessConfig {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
}

/** A piece of a process's life, in order: output, then one `end`. */
export type ProcessEvent =
  | { kind: "stdout" | "stderr" | "pty"; data: Uint8Array }
  | { kind: "end"; exitCode: number; exited: boolean; status: string; error?: string };

/** What a client asks to start. */
export interface StartRequest {
  config: ProcessConfig;
  tag?: string;
  /** Keep stdin open for `SendInput` (else the command reads an empty stdin). */
  stdin: boolean;
  pty?: { rows: number; cols: number };
  user?: string;
}

/** How the table runs a command: the session agent's `exec`. */
export type Exec = (request: ExecRequest) => ExecHandle;

/** Output a slow client may leave unread before it is cut off. */
const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/** Processes running at once in one sandbox (the session's relay allows 64 per connection). */
export const MAX_PROCESSES = 48;

/** Shells the SDK asks for that an image may lack, and what stands in for them. */
const SHELL_STAND_INS: Record<string, string> = { "/bin/bash": "/bin/sh" };

/** One reader of a process's events. */
class Subscriber implements AsyncIterableIterator<ProcessEvent> {
  #queue: ProcessEvent[] = [];
  #bytes = 0;
  #wake?: () => void;
  #failure?: Error;
  #done = false;
  constructor(private readonly onClose: () => void) {}

  push(event: ProcessEvent): void {
    if (this.#done) return;
    if (event.kind !== "end") {
      this.#bytes += event.data.length;
      if (this.#bytes > MAX_BACKLOG_BYTES) {
        this.fail(
          new AgentboxError("The client read the process's output too slowly", {
            kind: "failed",
            code: "e2b_slow_reader",
          }),
        );
        return;
      }
    }
    this.#queue.push(event);
    this.#wake?.();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<ProcessEvent>> {
    for (;;) {
      if (this.#done) return { done: true, value: undefined };
      const event = this.#queue.shift();
      if (event) {
        if (event.kind === "end") this.#finish();
        else this.#bytes -= event.data.length;
        return { done: false, value: event };
      }
      if (this.#failure) {
        this.#finish();
        throw this.#failure;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  return(): Promise<IteratorResult<ProcessEvent>> {
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue = [];
    this.#wake?.(); // a pending next() returns: the client went away
    this.onClose();
  }
}

/** A process the server started, until it ends. */
export class TrackedProcess {
  readonly #subscribers = new Set<Subscriber>();
  #stdin?: ReadableStreamDefaultController<Uint8Array>;
  #ended?: ProcessEvent;

  private constructor(
    readonly pid: number,
    readonly tag: string | undefined,
    readonly config: ProcessConfig,
    readonly pty: boolean,
    private readonly handle: ExecHandle,
  ) {}

  /**
   * Start `request` with `exec`; resolves once the guest started it, with the first subscription
   * already open (no output is missed). A shell the image lacks (`/bin/bash` on a busybox image)
   * is run as `/bin/sh` with the same arguments. Rejects with the agent's error
   * (`command_not_found` when nothing can run it).
   */
  static async start(
    exec: Exec,
    request: StartRequest,
  ): Promise<{ process: TrackedProcess; events: AsyncIterableIterator<ProcessEvent> }> {
    let cmd = request.config.cmd;
    for (;;) {
      let stdin: ReadableStreamDefaultController<Uint8Array> | undefined;
      const input = request.stdin || request.pty
        ? new ReadableStream<Uint8Array>({ start: (c) => void (stdin = c) })
        : undefined;
      const handle = exec({
        argv: [cmd, ...request.config.args],
        env: request.config.envs,
        cwd: request.config.cwd,
        user: request.user,
        pty: request.pty && {
          ...request.pty,
          term: request.config.envs.TERM ?? "xterm-256color",
        },
        stdin: input,
      });
      let pid: number;
      try {
        pid = await handle.started;
      } catch (error) {
        handle.result.catch(() => {});
        handle.stdout.cancel().catch(() => {});
        handle.stderr.cancel().catch(() => {});
        const standIn = SHELL_STAND_INS[cmd];
        if (isCode(error, "spawn_failed") && standIn) {
          cmd = standIn;
          continue;
        }
        throw error;
      }
      const process = new TrackedProcess(
        pid,
        request.tag,
        request.config,
        request.pty !== undefined,
        handle,
      );
      process.#stdin = stdin;
      const events = process.subscribe();
      process.#pump();
      return { process, events };
    }
  }

  /** Whether the process has ended (its `end` event was sent). */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Settles when the process has ended. */
  get done(): Promise<unknown> {
    return this.handle.result.catch(() => {});
  }

  /** Events from now on (just the `end` when it has ended). */
  subscribe(): AsyncIterableIterator<ProcessEvent> {
    const subscriber: Subscriber = new Subscriber(() => this.#subscribers.delete(subscriber));
    if (this.#ended) subscriber.push(this.#ended);
    else this.#subscribers.add(subscriber);
    return subscriber;
  }

  /** Bytes for the process's stdin (or its terminal). Throws `e2b_stdin_closed`. */
  write(data: Uint8Array): void {
    if (!this.#stdin) {
      throw new AgentboxError(`Process ${this.pid} was started without stdin`, {
        kind: "state",
        code: "e2b_stdin_closed",
      });
    }
    try {
      this.#stdin.enqueue(data);
    } catch (cause) {
      throw new AgentboxError(`The stdin of process ${this.pid} is closed`, {
        cause,
        kind: "state",
        code: "e2b_stdin_closed",
      });
    }
  }

  /** End the process's stdin. */
  closeStdin(): void {
    try {
      this.#stdin?.close();
    } catch {
      // already closed
    }
  }

  signal(signal: Deno.Signal): Promise<void> {
    return this.handle.signal(signal);
  }

  resize(size: { rows: number; cols: number }): Promise<void> {
    return this.handle.resize(size);
  }

  #emit(event: ProcessEvent): void {
    for (const subscriber of this.#subscribers) subscriber.push(event);
  }

  #pump(): void {
    const read = async (stream: ReadableStream<Uint8Array>, kind: "stdout" | "stderr" | "pty") => {
      for await (const data of stream) this.#emit({ kind, data });
    };
    const output = Promise.all([
      read(this.handle.stdout, this.pty ? "pty" : "stdout"),
      read(this.handle.stderr, "stderr"),
    ]);
    (async () => {
      let end: ProcessEvent;
      try {
        const [result] = await Promise.all([this.handle.result, output]);
        end = endEvent(result);
      } catch (error) {
        end = {
          kind: "end",
          exitCode: -1,
          exited: false,
          status: "lost",
          error: error instanceof Error ? error.message : String(error),
        };
      }
      this.closeStdin();
      this.#ended = end;
      this.#emit(end);
      this.#subscribers.clear();
    })();
  }
}

/** How a result reads in envd's terms (Go's `ProcessState` wording). */
export function endEvent(result: ExecResult): ProcessEvent & { kind: "end" } {
  if (result.code !== null) {
    const status = `exit status ${result.code}`;
    return {
      kind: "end",
      exitCode: result.code,
      exited: true,
      status,
      error: result.code === 0 ? undefined : status,
    };
  }
  const signal = result.timedOut ? "killed (timed out)" : (result.signal ?? "unknown");
  const status = `signal: ${signal}`;
  return { kind: "end", exitCode: -1, exited: false, status, error: status };
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof AgentboxError && error.code === code;
}

/** Which process a request names. */
export type ProcessSelector = { pid: number } | { tag: string };

/** The processes of one sandbox. */
export class ProcessTable {
  readonly #processes = new Map<number, TrackedProcess>();

  constructor(private readonly exec: () => Promise<Exec>) {}

  /** Start a process and track it until it ends. Throws `e2b_too_many_processes`. */
  async start(
    request: StartRequest,
  ): Promise<{ process: TrackedProcess; events: AsyncIterableIterator<ProcessEvent> }> {
    if (this.#processes.size >= MAX_PROCESSES) {
      throw new AgentboxError(`At most ${MAX_PROCESSES} processes may run in a sandbox`, {
        kind: "conflict",
        code: "e2b_too_many_processes",
      });
    }
    const started = await TrackedProcess.start(await this.exec(), request);
    const { process } = started;
    this.#processes.set(process.pid, process);
    process.done.finally(() => {
      if (this.#processes.get(process.pid) === process) this.#processes.delete(process.pid);
    });
    return started;
  }

  /** The running process `selector` names. */
  find(selector: ProcessSelector): TrackedProcess | undefined {
    if ("pid" in selector) return this.#processes.get(selector.pid);
    for (const process of this.#processes.values()) {
      if (process.tag === selector.tag) return process;
    }
    return undefined;
  }

  list(): TrackedProcess[] {
    return [...this.#processes.values()].filter((p) => !p.ended);
  }
}
