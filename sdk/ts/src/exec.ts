/**
 * Running a command in a sandbox: `POST /v1/sandboxes/{id}/exec` answers with NDJSON events,
 * read here as they come — as callbacks and a collected result, or as an async iterator.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { AgentboxError, CommandError, errorFromBody, protocolError } from "./errors.ts";
import type { Transport } from "./transport.ts";
import type { ExitStatus } from "./types.ts";

/** Options of `exec`. */
export interface ExecOptions {
  env?: Record<string, string>;
  /** The working directory (default: the sandbox's). */
  cwd?: string;
  /** The guest user (default: the image's). */
  user?: string;
  /**
   * Bytes (or UTF-8 text) for the command's stdin. It travels base64 in the JSON request, which
   * the server bounds at 1 MiB (`body_too_large`): about 750 KiB of stdin. For more, write a
   * file (`files.write`) and redirect from it.
   */
  stdin?: string | Uint8Array;
  /** Kill the command after this many seconds. */
  timeoutSec?: number;
  /** Aborting kills the command (the connection closes; the server sends it SIGKILL). */
  signal?: AbortSignal;
}

/** Options of `exec` with callbacks. */
export interface ExecCallbacks extends ExecOptions {
  /** Each chunk of stdout as it comes; given, stdout is not collected in the result. */
  onStdout?: (chunk: Uint8Array) => void;
  /** Each chunk of stderr as it comes; given, stderr is not collected in the result. */
  onStderr?: (chunk: Uint8Array) => void;
  /** Throw a {@linkcode CommandError} (with the result) unless the command exits 0. */
  check?: boolean;
}

/** A finished command. */
export interface ExecResult extends ExitStatus {
  /** Its stdout as UTF-8 text ("" when onStdout took it). */
  stdout: string;
  /** Its stderr as UTF-8 text ("" when onStderr took it). */
  stderr: string;
  /** Its stdout's bytes (empty when onStdout took them). */
  stdoutBytes: Uint8Array;
  /** Its stderr's bytes (empty when onStderr took them). */
  stderrBytes: Uint8Array;
}

/** One event of a running command. */
export type ExecEvent =
  | { type: "started"; pid: number }
  | { type: "stdout"; data: Uint8Array }
  | { type: "stderr"; data: Uint8Array }
  | ({ type: "exit" } & ExitStatus);

/** The events of `argv` run in sandbox `id`; an `error` event is thrown as an AgentboxError. */
export async function* execEvents(
  transport: Transport,
  id: string,
  argv: string[],
  options: ExecOptions = {},
): AsyncGenerator<ExecEvent, void, undefined> {
  const stdin = typeof options.stdin === "string"
    ? Buffer.from(options.stdin, "utf8")
    : options.stdin;
  const reply = await transport.request("POST", `/v1/sandboxes/${encodeURIComponent(id)}/exec`, {
    json: {
      argv,
      env: options.env,
      cwd: options.cwd,
      user: options.user,
      stdin: stdin === undefined
        ? undefined
        : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength).toString("base64"),
      timeoutSec: options.timeoutSec,
    },
    accept: "application/x-ndjson",
    signal: options.signal,
  });
  const decoder = new TextDecoder();
  let pending = "";
  let ended = false;
  for await (const chunk of abortable(reply.body, options.signal)) {
    pending += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line === "") continue;
      const event = parseEvent(line);
      yield event;
      if (event.type === "exit") ended = true;
    }
  }
  if (!ended) {
    throw new AgentboxError("The exec stream ended before the command's exit", {
      kind: "unavailable",
      code: "connection_lost",
      status: 0,
    });
  }
}

/** Run `argv` to its end, calling the callbacks with output as it comes. */
export async function runExec(
  transport: Transport,
  id: string,
  argv: string[],
  options: ExecCallbacks = {},
): Promise<ExecResult> {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  for await (const event of execEvents(transport, id, argv, options)) {
    if (event.type === "stdout") {
      if (options.onStdout) options.onStdout(event.data);
      else out.push(event.data);
    } else if (event.type === "stderr") {
      if (options.onStderr) options.onStderr(event.data);
      else err.push(event.data);
    } else if (event.type === "exit") {
      const stdoutBytes = new Uint8Array(Buffer.concat(out));
      const stderrBytes = new Uint8Array(Buffer.concat(err));
      const result: ExecResult = {
        exitCode: event.exitCode,
        signal: event.signal,
        timedOut: event.timedOut,
        stdout: new TextDecoder().decode(stdoutBytes),
        stderr: new TextDecoder().decode(stderrBytes),
        stdoutBytes,
        stderrBytes,
      };
      if (options.check && result.exitCode !== 0) throw new CommandError(argv, result);
      return result;
    }
  }
  throw protocolError("The exec stream ended without an exit");
}

/** One NDJSON line as an event, checked. */
function parseEvent(line: string): ExecEvent {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch {
    throw protocolError("The exec stream has a line that is not JSON");
  }
  switch (value?.type) {
    case "started":
      if (typeof value.pid === "number") return { type: "started", pid: value.pid };
      break;
    case "stdout":
    case "stderr":
      if (typeof value.data === "string") {
        const bytes = Buffer.from(value.data, "base64");
        return {
          type: value.type,
          data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        };
      }
      break;
    case "exit":
      return {
        type: "exit",
        exitCode: typeof value.code === "number" ? value.code : null,
        signal: typeof value.signal === "string" ? value.signal : null,
        timedOut: value.timedOut === true,
      };
    case "error":
      throw errorFromBody(0, value, "The command failed");
  }
  throw protocolError(`The exec stream has an event the SDK does not know: ${line.slice(0, 80)}`);
}

/** `chunks`, failing with code `aborted` (not `connection_lost`) once `signal` aborted. */
async function* abortable(
  chunks: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncIterable<Uint8Array> {
  try {
    yield* chunks;
  } catch (error) {
    if (!signal?.aborted) throw error;
    throw new AgentboxError("The command was aborted: the server kills it", {
      kind: "failed",
      code: "aborted",
      status: 0,
      cause: error,
    });
  }
}
