/**
 * Running commands in a sandbox: `POST /v1/sandboxes/{id}/exec` streams the command's stdout,
 * stderr and exit as NDJSON (or server-sent events with `Accept: text/event-stream`), and
 * `GET /v1/sandboxes/{id}/pty` runs one on a terminal over a WebSocket. A client that goes away
 * mid-stream takes its command with it: nothing keeps running for nobody.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import type { ExecHandle } from "../channel/agent_client.ts";
import { UsageError } from "../api/errors.ts";
import { resolveSessionRef } from "../api/network_records.ts";
import { connectToSession } from "../api/session_connect.ts";
import type { ServeApp, ServeDeps } from "./app.ts";
import { errorResponse } from "./http_status.ts";
import { errorReply, EXEC, EXEC_EVENT, SANDBOX_PARAM } from "./schemas.ts";

type ExecEvent = z.infer<typeof EXEC_EVENT>;

/** The subprotocol of the terminal WebSocket. */
export const PTY_SUBPROTOCOL = "agentbox.pty.v1";

/** The first message on the terminal WebSocket: what to run, on what size of terminal. */
export const PTY_START = z.strictObject({
  type: z.literal("start"),
  argv: z.array(z.string().max(131072)).min(1).max(4096),
  rows: z.number().int().min(1).max(4096),
  cols: z.number().int().min(1).max(4096),
  term: z.string().regex(/^[A-Za-z0-9._+-]{1,64}$/).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(131072)).optional(),
  cwd: z.string().max(4096).optional(),
  user: z.string().max(32).optional(),
}).openapi("PtyStart");

/** Later text messages from the client: a new size, or a signal. */
const PTY_CONTROL = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("resize"),
    rows: z.number().int().min(1).max(4096),
    cols: z.number().int().min(1).max(4096),
  }),
  z.strictObject({
    type: z.literal("signal"),
    signal: z.enum(["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]),
  }),
]);

/**
 * Add the exec routes to `app`.
 *
 * @example
 * ```ts ignore
 * import { execRoutes } from "./exec_routes.ts";
 * execRoutes(app, deps);
 * ```
 */
export function execRoutes(app: ServeApp, deps: ServeDeps): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/sandboxes/{id}/exec",
      summary: "Run a command; its output and exit stream back as NDJSON (or SSE)",
      request: {
        params: SANDBOX_PARAM,
        body: { content: { "application/json": { schema: EXEC } } },
      },
      responses: {
        200: {
          description: "One event per line (NDJSON), or per SSE event; the last is `exit` or " +
            "`error`",
          content: {
            "application/x-ndjson": { schema: EXEC_EVENT },
            "text/event-stream": { schema: EXEC_EVENT },
          },
        },
        400: errorReply("Bad request"),
        404: errorReply("No such sandbox"),
        409: errorReply("Not running"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const id = resolveSessionRef(deps.ctx, c.req.valid("param").id);
      const stdin = body.stdin === undefined ? undefined : decodeBase64(body.stdin);
      const connection = await connectToSession(id);
      const run = connection.agent.exec({
        argv: body.argv,
        env: body.env,
        cwd: body.cwd,
        user: body.user,
        stdin: stdin === undefined ? undefined : new Blob([stdin]).stream(),
        timeoutMs: body.timeoutSec === undefined ? undefined : body.timeoutSec * 1000,
      });
      const sse = (c.req.header("accept") ?? "").includes("text/event-stream");
      const encode = sse ? sseEvent : ndjsonLine;
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const writer = writable.getWriter();
      // The client went away (its response was cancelled) even while the command is silent.
      writer.closed.catch(() => run.signal("SIGKILL").catch(() => {}));
      streamExec(run, (event) => writer.write(encode(event)))
        .then(() => writer.close(), () => {})
        .finally(() => connection.agent.close());
      return new Response(readable, {
        headers: {
          "content-type": sse ? "text/event-stream" : "application/x-ndjson",
          "cache-control": "no-store",
        },
      });
    },
  );

  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/sandboxes/{id}/pty",
    summary: "Run a command on a terminal over a WebSocket (subprotocol agentbox.pty.v1): " +
      "first text message a PtyStart; then binary messages are the terminal's bytes both ways " +
      'and text messages `{"type":"resize",rows,cols}` or `{"type":"signal",signal}` from the ' +
      'client, `{"type":"started",pid}`, `{"type":"exit",code,signal,timedOut}` or ' +
      '`{"type":"error",error}` from the server',
    request: { params: SANDBOX_PARAM },
    responses: {
      101: { description: "Switching to the WebSocket protocol" },
      400: errorReply("Not a WebSocket request"),
    },
  });
  app.openAPIRegistry.register("PtyStart", PTY_START);

  app.get("/v1/sandboxes/:id/pty", (c) => {
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new UsageError("This route is a WebSocket: connect with Upgrade: websocket", {
        code: "websocket_required",
      });
    }
    const id = resolveSessionRef(deps.ctx, c.req.param("id"));
    const offered = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw, {
      protocol: offered.includes(PTY_SUBPROTOCOL) ? PTY_SUBPROTOCOL : undefined,
      idleTimeout: 60,
    });
    socket.binaryType = "arraybuffer";
    servePty(socket, id);
    return response;
  });
}

/**
 * Send `run`'s events through `send` until it exits; a failed send (the client went away) kills
 * the command. Resolves when the last event was sent; rejects when the client went away.
 */
async function streamExec(
  run: ExecHandle,
  send: (event: ExecEvent) => Promise<void>,
): Promise<void> {
  let gone = false;
  const sendOrKill = async (event: ExecEvent) => {
    try {
      await send(event);
    } catch (error) {
      if (!gone) {
        gone = true;
        await run.signal("SIGKILL").catch(() => {});
      }
      throw error;
    }
  };
  // A command that cannot start fails its result and its streams together: report the result's
  // failure (it names the cause, e.g. command_not_found), and never leave it unhandled (that
  // would end the server).
  let failed: unknown;
  run.result.catch((error) => void (failed = error));
  // Output is sent in order within each stream; the two streams interleave as they come.
  let queue = Promise.resolve();
  const pump = async (stream: ReadableStream<Uint8Array>, type: "stdout" | "stderr") => {
    for await (const chunk of stream) {
      queue = queue.then(() => sendOrKill({ type, data: chunk.toBase64() }));
      await queue;
    }
  };
  run.started.then((pid) => {
    queue = queue.then(() => sendOrKill({ type: "started", pid }));
  }, () => {});
  try {
    await Promise.all([pump(run.stdout, "stdout"), pump(run.stderr, "stderr")]);
    const result = await run.result;
    await queue;
    await sendOrKill({
      type: "exit",
      code: result.code,
      signal: result.signal,
      timedOut: result.timedOut,
    });
  } catch (error) {
    if (gone) throw error;
    await queue.catch(() => {});
    await sendOrKill({ type: "error", error: errorResponse(failed ?? error).body.error });
  }
}

/** Run the command the socket's first message asks for on a terminal, until either side ends. */
function servePty(socket: WebSocket, id: string): void {
  let run: ExecHandle | undefined;
  let stdin: ReadableStreamDefaultController<Uint8Array> | undefined;
  let close: (() => void) | undefined;
  let started = false;
  const waiting: ((command: ExecHandle) => void)[] = [];
  const sendJson = (value: unknown) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(value));
  };
  const fail = (error: unknown) => {
    sendJson({ type: "error", error: errorResponse(error).body.error });
    socket.close(1011, "failed");
  };
  socket.onmessage = (message) => {
    if (message.data instanceof ArrayBuffer) {
      if (!stdin) {
        return fail(new UsageError("Send the start message first", { code: "pty_protocol" }));
      }
      stdin.enqueue(new Uint8Array(message.data));
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(message.data));
    } catch {
      return fail(new UsageError("A text message must be JSON", { code: "pty_protocol" }));
    }
    if (!started) {
      const start = PTY_START.safeParse(parsed);
      if (!start.success) {
        return fail(
          new UsageError(`Bad start message: ${start.error.issues[0].message}`, {
            code: "pty_protocol",
          }),
        );
      }
      started = true;
      startPty(start.data).catch(fail);
      return;
    }
    const control = PTY_CONTROL.safeParse(parsed);
    if (!control.success) {
      return fail(
        new UsageError(`Bad control message: ${control.error.issues[0].message}`, {
          code: "pty_protocol",
        }),
      );
    }
    const wanted = control.data;
    const apply = (command: ExecHandle) =>
      (wanted.type === "resize"
        ? command.resize({ rows: wanted.rows, cols: wanted.cols })
        : command.signal(wanted.signal)).catch(() => {});
    // A control message right after the start waits for the command to exist.
    if (run) apply(run);
    else waiting.push(apply);
  };
  socket.onclose = () => {
    // The client went away: hang the terminal up, and stop talking to the session.
    run?.signal("SIGHUP").catch(() => {}).finally(() => close?.());
    try {
      stdin?.close();
    } catch {
      // Already closed.
    }
  };
  const startPty = async (start: z.infer<typeof PTY_START>) => {
    // Keys may follow the start message at once: they queue here until the command runs.
    const input = new ReadableStream<Uint8Array>({ start: (c) => void (stdin = c) });
    const connection = await connectToSession(id);
    close = () => connection.agent.close();
    if (socket.readyState !== WebSocket.OPEN) return close();
    run = connection.agent.exec({
      argv: start.argv,
      env: start.env,
      cwd: start.cwd,
      user: start.user,
      stdin: input,
      pty: { rows: start.rows, cols: start.cols, term: start.term ?? "xterm-256color" },
    });
    // As in streamExec: a failed start is reported with the result's error, never unhandled.
    let failed: unknown;
    run.result.catch((error) => void (failed = error));
    for (const apply of waiting.splice(0)) apply(run);
    run.started.then((pid) => sendJson({ type: "started", pid }), () => {});
    const drain = (async () => {
      for await (const chunk of run.stdout) {
        if (socket.readyState === WebSocket.OPEN) socket.send(chunk);
      }
    })();
    run.stderr.cancel().catch(() => {});
    try {
      await drain;
      const result = await run.result;
      sendJson({
        type: "exit",
        code: result.code,
        signal: result.signal,
        timedOut: result.timedOut,
      });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000, "exited");
    } catch (error) {
      throw failed ?? error;
    } finally {
      close();
    }
  };
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    throw new UsageError("stdin is not base64", { code: "request_invalid" });
  }
}

const encoder = new TextEncoder();

function ndjsonLine(event: ExecEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event) + "\n");
}

function sseEvent(event: ExecEvent): Uint8Array {
  return encoder.encode(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}
