/**
 * envd's `process.Process` service over a sandbox's {@linkcode ProcessTable}: `Start` and
 * `Connect` stream a process's events (start, output, end), `List` the running ones, `SendInput`
 * feeds stdin or the terminal, `Update` resizes the terminal, `SendSignal` and `CloseStdin` do what
 * they say. `StreamInput` (client streaming, which the SDK does not use) answers Unimplemented.
 *
 * The requests have been decoded by Connect against the SDK's own schema, so their shapes are
 * the schema's; what they say (pids, sizes, names) is still checked here.
 *
 * @module
 */

import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { USER_NAME_PATTERN } from "@agentbox/protocol";
import { connectError } from "./http_errors.ts";
import type { ProcessEvent, ProcessSelector, TrackedProcess } from "./processes.ts";
import { sandboxOf } from "./sandbox_context.ts";

/** envd's `Signal` enum values the SDK sends. */
const SIGNALS: Record<number, Deno.Signal> = { 9: "SIGKILL", 15: "SIGTERM" };

/** The largest terminal a client may ask for. */
const MAX_TERMINAL = 1000;

interface Selector {
  process?: {
    selector?: { case: "pid"; value: number } | { case: "tag"; value: string } | {
      case: undefined;
    };
  };
}

interface StartRequest {
  process?: { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string };
  pty?: { size?: { cols: number; rows: number } };
  tag?: string;
  stdin?: boolean;
}

/** The process service's methods, keyed as Connect's `ServiceImpl` names them. */
export function processService() {
  return {
    list(_request: unknown, ctx: HandlerContext) {
      return guard(() => ({
        processes: sandboxOf(ctx).processes.list().map((p) => ({
          config: p.config,
          pid: p.pid,
          tag: p.tag,
        })),
      }));
    },

    async *start(request: StartRequest, ctx: HandlerContext) {
      const sandbox = sandboxOf(ctx);
      const config = request.process;
      if (!config || config.cmd === "") {
        throw new ConnectError("process.cmd is required", Code.InvalidArgument);
      }
      const pty = request.pty ? terminalSize(request.pty.size) : undefined;
      let started;
      try {
        started = await sandbox.processes.start({
          config: {
            cmd: config.cmd,
            args: config.args,
            envs: config.envs,
            cwd: config.cwd || undefined,
          },
          tag: request.tag,
          stdin: request.stdin ?? false,
          pty,
          user: userOf(ctx),
        });
      } catch (error) {
        throw connectError(error);
      }
      yield* streamEvents(started.process, started.events, ctx);
    },

    async *connect(request: Selector, ctx: HandlerContext) {
      const process = find(ctx, request);
      yield* streamEvents(process, process.subscribe(), ctx);
    },

    async update(
      request: Selector & { pty?: { size?: { cols: number; rows: number } } },
      ctx: HandlerContext,
    ) {
      const process = find(ctx, request);
      if (!request.pty) return {};
      if (!process.pty) {
        throw new ConnectError(`Process ${process.pid} has no terminal`, Code.FailedPrecondition);
      }
      await process.resize(terminalSize(request.pty.size)).catch((e) => {
        throw connectError(e);
      });
      return {};
    },

    sendInput(
      request: Selector & {
        input?: { input: { case: "stdin" | "pty"; value: Uint8Array } | { case: undefined } };
      },
      ctx: HandlerContext,
    ) {
      const process = find(ctx, request);
      const input = request.input?.input;
      return guard(() => {
        if (input?.case !== undefined) process.write(input.value);
        return {};
      });
    },

    async sendSignal(request: Selector & { signal: number }, ctx: HandlerContext) {
      const process = find(ctx, request);
      const signal = SIGNALS[request.signal];
      if (!signal) throw new ConnectError(`Unknown signal ${request.signal}`, Code.InvalidArgument);
      await process.signal(signal).catch((e) => {
        throw connectError(e);
      });
      return {};
    },

    closeStdin(request: Selector, ctx: HandlerContext) {
      find(ctx, request).closeStdin();
      return {};
    },
  };
}

/** A process's events as envd's `StartResponse`/`ConnectResponse` messages. */
async function* streamEvents(
  process: TrackedProcess,
  events: AsyncIterableIterator<ProcessEvent>,
  ctx: HandlerContext,
) {
  const stop = () => events.return?.();
  ctx.signal.addEventListener("abort", stop, { once: true });
  try {
    yield { event: { event: { case: "start", value: { pid: process.pid } } } };
    for await (const event of events) {
      if (event.kind === "end") {
        const { exitCode, exited, status, error } = event;
        yield { event: { event: { case: "end", value: { exitCode, exited, status, error } } } };
        return;
      }
      yield {
        event: {
          event: { case: "data", value: { output: { case: event.kind, value: event.data } } },
        },
      };
    }
  } catch (error) {
    throw connectError(error);
  } finally {
    ctx.signal.removeEventListener("abort", stop);
    stop();
  }
}

function find(ctx: HandlerContext, request: Selector): TrackedProcess {
  const selector = request.process?.selector;
  let which: ProcessSelector;
  if (selector?.case === "pid") which = { pid: selector.value };
  else if (selector?.case === "tag") which = { tag: selector.value };
  else throw new ConnectError("Name the process by pid or tag", Code.InvalidArgument);
  const process = sandboxOf(ctx).processes.find(which);
  if (!process) {
    const name = "pid" in which ? `pid ${which.pid}` : `tag ${JSON.stringify(which.tag)}`;
    throw new ConnectError(`No process with ${name}`, Code.NotFound);
  }
  return process;
}

function terminalSize(size: { cols: number; rows: number } | undefined) {
  const cols = size?.cols ?? 80;
  const rows = size?.rows ?? 24;
  if (cols < 1 || rows < 1 || cols > MAX_TERMINAL || rows > MAX_TERMINAL) {
    throw new ConnectError(`A terminal of ${cols}x${rows} is out of range`, Code.InvalidArgument);
  }
  return { cols, rows };
}

/**
 * The guest user a request asks for: envd's `Authorization: Basic base64(user:)`; absent, the
 * session's default user.
 */
export function userOf(ctx: Pick<HandlerContext, "requestHeader">): string | undefined {
  const header = ctx.requestHeader.get("authorization");
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(header);
  let user: string | undefined;
  try {
    user = match ? atob(match[1]).split(":")[0] : undefined;
  } catch {
    user = undefined;
  }
  if (user === undefined || !USER_NAME_PATTERN.test(user)) {
    throw new ConnectError("The Authorization header names no valid user", Code.InvalidArgument);
  }
  return user;
}

function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    throw connectError(error);
  }
}
