/**
 * HTTP/1.1 to `agentbox serve` over its unix socket or a TCP address (with the bearer token),
 * through `node:http`, which both Deno and Node provide: one code path for both runtimes, with
 * kept-alive connections, streamed bodies both ways, and the WebSocket upgrade of the terminal.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { homedir } from "node:os";
import process from "node:process";
import type { Duplex } from "node:stream";
import { AgentboxError, errorFromBody, protocolError } from "./errors.ts";

/** Where and how to reach the server. */
export interface ConnectionOptions {
  /**
   * `http://HOST:PORT` or `https://HOST:PORT` of a server started with `--listen`; default: the
   * `AGENTBOX_URL` environment variable, else the unix socket.
   */
  url?: string;
  /** The bearer token for `url`; default: `AGENTBOX_TOKEN`. */
  token?: string;
  /** The unix socket; default: `serve.sock` in agentbox's runtime directory. */
  socketPath?: string;
  /** PEM certificate(s) to trust for an `https` URL signed by a private CA. */
  ca?: string;
}

/** A request or upload body. */
export type Body =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/** Options of one request. */
export interface RequestOptions {
  /** Query parameters; an array repeats the parameter, undefined leaves it out. */
  query?: Record<string, string | number | boolean | string[] | undefined>;
  /** A JSON body. */
  json?: unknown;
  /** A byte body (sent as application/octet-stream). */
  body?: Body;
  /** The Accept header. */
  accept?: string;
  /** Aborting closes the connection (the server then stops what it was doing for it). */
  signal?: AbortSignal;
}

/** A successful answer, its body not read yet. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body's bytes as they arrive; stopping early closes the connection. */
  body: AsyncIterable<Uint8Array>;
  /** The body parsed as JSON. */
  json<T>(): Promise<T>;
  /** The whole body. */
  bytes(): Promise<Uint8Array>;
}

/** An upgraded (WebSocket) connection. */
export interface Upgraded {
  socket: Duplex;
  /** Bytes that came with the upgrade answer, before the first frame was read. */
  head: Uint8Array;
  protocol: string | undefined;
}

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/**
 * The connection to one server.
 *
 * @example
 * ```ts ignore
 * import { Transport } from "./transport.ts";
 * const transport = new Transport({ url: "http://127.0.0.1:7070", token: "…" });
 * const reply = await transport.request("GET", "/v1/sandboxes");
 * console.log(await reply.json());
 * ```
 */
export class Transport {
  /** Where the server is, for messages: `unix:PATH` or the URL. */
  readonly target: string;
  readonly #socketPath: string | undefined;
  readonly #url: URL | undefined;
  readonly #token: string | undefined;
  readonly #agent: http.Agent;
  readonly #module: typeof http | typeof https;

  constructor(options: ConnectionOptions = {}) {
    const url = options.url ?? (options.socketPath === undefined ? env("AGENTBOX_URL") : undefined);
    if (url !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw usage(`${JSON.stringify(url)} is not a URL: expected http://HOST:PORT`);
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        throw usage(`${url}: expected an http:// or https:// URL`);
      }
      this.#url = parsed;
      this.#token = options.token ?? env("AGENTBOX_TOKEN");
      if (this.#token === undefined) {
        throw usage(
          `${url} needs a token: pass { token } or set AGENTBOX_TOKEN (\`agentbox serve token\`)`,
        );
      }
      if (!/^[\x21-\x7e]{1,200}$/.test(this.#token)) {
        throw usage("The token has characters a token cannot have: check AGENTBOX_TOKEN");
      }
      this.target = parsed.origin;
      const secure = parsed.protocol === "https:";
      this.#module = secure ? https : http;
      this.#agent = secure
        ? new https.Agent({ keepAlive: true, ca: options.ca })
        : new http.Agent({ keepAlive: true });
    } else {
      this.#socketPath = options.socketPath ?? defaultSocketPath();
      this.target = `unix:${this.#socketPath}`;
      this.#module = http;
      this.#agent = new http.Agent({ keepAlive: true });
    }
  }

  /**
   * Send a request; resolves with the answer once its headers came, rejects with an
   * {@linkcode AgentboxError} for an error status or when the server cannot be reached.
   */
  request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    let payload: Body | undefined;
    if (options.json !== undefined) {
      payload = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    } else if (options.body !== undefined) {
      payload = options.body;
      headers["content-type"] = "application/octet-stream";
    }
    if (options.accept) headers.accept = options.accept;
    return new Promise<Reply>((resolve, reject) => {
      const request = this.#module.request({
        ...this.#where(path, options.query),
        method,
        headers: this.#headers(headers),
        agent: this.#agent,
        signal: options.signal,
      }, (response) => {
        const status = response.statusCode ?? 0;
        const reply = wrapReply(status, response);
        if (status < 400) return resolve(reply);
        errorOf(reply, `${method} ${path}: HTTP ${status}`).then(reject, reject);
      });
      request.on("error", (error) => reject(this.#failure(error)));
      writeBody(request, payload).catch((error) => request.destroy(error));
    });
  }

  /** Open a WebSocket to `path`, offering `protocols`; resolves once the server switched. */
  upgrade(path: string, protocols: string[]): Promise<Upgraded> {
    const key = randomBytes(16).toString("base64");
    return new Promise<Upgraded>((resolve, reject) => {
      const request = this.#module.request({
        ...this.#where(path),
        method: "GET",
        agent: false,
        headers: this.#headers({
          connection: "Upgrade",
          upgrade: "websocket",
          "sec-websocket-key": key,
          "sec-websocket-version": "13",
          "sec-websocket-protocol": protocols.join(", "),
        }),
      });
      request.on("upgrade", (response, socket, head) => {
        const expected = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
        if (response.headers["sec-websocket-accept"] !== expected) {
          socket.destroy();
          return reject(protocolError("The server's WebSocket answer has a wrong accept key"));
        }
        const protocol = response.headers["sec-websocket-protocol"];
        resolve({ socket, head: new Uint8Array(head), protocol });
      });
      request.on("response", (response) => {
        const status = response.statusCode ?? 0;
        errorOf(wrapReply(status, response), `GET ${path}: HTTP ${status}, not a WebSocket`)
          .then(reject, reject);
      });
      request.on("error", (error) => reject(this.#failure(error)));
      request.end();
    });
  }

  /** Close the kept-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  #headers(headers: Record<string, string>): Record<string, string> {
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    return headers;
  }

  #where(path: string, query?: RequestOptions["query"]) {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) search.append(name, String(one));
    }
    const text = search.size > 0 ? `${path}?${search}` : path;
    if (this.#url === undefined) return { socketPath: this.#socketPath, path: text };
    const base = this.#url.pathname.replace(/\/$/, "");
    return {
      protocol: this.#url.protocol,
      hostname: this.#url.hostname.replace(/^\[|\]$/g, ""),
      port: this.#url.port || (this.#url.protocol === "https:" ? 443 : 80),
      path: base + text,
    };
  }

  #failure(error: unknown): AgentboxError {
    if (error instanceof AgentboxError) return error;
    const err = error as NodeJS.ErrnoException;
    if (err?.name === "AbortError") {
      return new AgentboxError("The request was aborted", {
        kind: "failed",
        code: "aborted",
        status: 0,
        cause: error,
      });
    }
    const reason = `${err?.code ?? ""} ${err?.message ?? ""}`.trim();
    if (/CERT|TLS|SSL|certificate/i.test(reason)) {
      return new AgentboxError(
        `The TLS handshake with ${this.target} failed (${reason}): for a private CA, pass ` +
          "{ ca: PEM }",
        { kind: "unavailable", code: "tls_failed", status: 0, cause: error },
      );
    }
    return new AgentboxError(
      `Cannot reach agentbox serve at ${this.target} (${err?.code ?? err?.message}): ` +
        "is `agentbox serve` running?",
      { kind: "unavailable", code: "server_unreachable", status: 0, cause: error },
    );
  }
}

/**
 * The server's default unix socket, by the server's rule: `$XDG_RUNTIME_DIR/agentbox` when that
 * is a private directory of ours, else `/run/user/UID/agentbox` when it is, else
 * `$XDG_STATE_HOME/agentbox/run` (`~/.local/state/agentbox/run`).
 *
 * @example
 * ```ts
 * import { defaultSocketPath } from "./transport.ts";
 * console.assert(defaultSocketPath().endsWith("/serve.sock"));
 * ```
 */
export function defaultSocketPath(): string {
  const uid = process.getuid?.() ?? 0;
  for (const base of [env("XDG_RUNTIME_DIR"), `/run/user/${uid}`]) {
    if (base?.startsWith("/") && isPrivateDir(base, uid)) return `${base}/agentbox/serve.sock`;
  }
  const state = env("XDG_STATE_HOME");
  const root = state?.startsWith("/") ? state : `${env("HOME") || homedir()}/.local/state`;
  return `${root}/agentbox/run/serve.sock`;
}

function isPrivateDir(path: string, uid: number): boolean {
  try {
    const info = statSync(path);
    return info.isDirectory() && info.uid === uid && (info.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === "" ? undefined : value;
}

function usage(message: string): AgentboxError {
  return new AgentboxError(message, { kind: "usage", code: "client_options", status: 0 });
}

function wrapReply(status: number, response: http.IncomingMessage): Reply {
  const body = (async function* () {
    try {
      for await (const chunk of response) {
        const buffer = chunk as Buffer;
        yield new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      }
    } catch (error) {
      throw new AgentboxError(`The connection to the server broke: ${(error as Error).message}`, {
        kind: "unavailable",
        code: "connection_lost",
        status: 0,
        cause: error,
      });
    } finally {
      if (!response.complete) response.destroy();
    }
  })();
  const bytes = async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    return new Uint8Array(Buffer.concat(chunks));
  };
  return {
    status,
    headers: response.headers,
    body,
    bytes,
    json: async <T>() => {
      const bytes_ = await bytes();
      try {
        return JSON.parse(Buffer.from(bytes_).toString("utf8")) as T;
      } catch {
        throw protocolError(`The server answered ${status} with a body that is not JSON`);
      }
    },
  };
}

/** The error an error answer's body describes (`fallback` when the body is not one). */
async function errorOf(reply: Reply, fallback: string): Promise<AgentboxError> {
  let body: unknown;
  try {
    body = await reply.json();
  } catch {
    body = undefined;
  }
  return errorFromBody(reply.status, body, fallback);
}

/** Write `payload` to `request` with back-pressure, then end it. */
async function writeBody(request: http.ClientRequest, payload: Body | undefined): Promise<void> {
  if (payload === undefined || typeof payload === "string" || payload instanceof Uint8Array) {
    request.end(payload);
    return;
  }
  const chunks: AsyncIterable<Uint8Array> = Symbol.asyncIterator in payload
    ? payload as AsyncIterable<Uint8Array>
    : readerChunks(payload as ReadableStream<Uint8Array>);
  for await (const chunk of chunks) {
    if (!request.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          request.off("drain", done);
          request.off("close", closed);
          resolve();
        };
        const closed = () => {
          request.off("drain", done);
          reject(new Error("The connection closed during the upload"));
        };
        request.on("drain", done);
        request.on("close", closed);
      });
    }
  }
  request.end();
}

async function* readerChunks(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
