/**
 * A sandbox of `agentbox serve`: create, connect, list; run commands (collected, streamed, or as
 * a `sh` template), its files, changes, snapshots, deadline, terminal; stop and delete —
 * `await using` deletes it at the end of the scope.
 *
 * @module
 */

import { AgentboxError, errorFromBody, protocolError } from "./errors.ts";
import {
  type ExecCallbacks,
  type ExecEvent,
  execEvents,
  type ExecOptions,
  type ExecResult,
  runExec,
} from "./exec.ts";
import { Files } from "./files.ts";
import { Pty, type PtyOptions } from "./pty.ts";
import { shellCommand, type ShellValue } from "./quote.ts";
import { type ServerEvent, serverEvents } from "./sse.ts";
import { type ConnectionOptions, Transport } from "./transport.ts";
import type {
  ApplyOptions,
  ApplySummary,
  Approval,
  Changes,
  CreateOptions,
  Review,
  ReviewOptions,
  SandboxInfo,
} from "./types.ts";

/** `Symbol.asyncDispose`, where the runtime has it (Deno, Node 20.4+), else its registered twin. */
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ??
  Symbol.for("Symbol.asyncDispose");

/** Options of `list`. */
export interface ListOptions {
  /** Only sandboxes with these labels (`{key: value}`; a value "" or `[key]`: has the label). */
  labels?: Record<string, string> | string[];
  /** Stopped sandboxes too. */
  all?: boolean;
}

/** A saved snapshot. */
export interface SnapshotInfo {
  name: string;
  [more: string]: unknown;
}

/**
 * A connection to one `agentbox serve`: over its unix socket by default, or to a URL with a
 * token (`AGENTBOX_URL`/`AGENTBOX_TOKEN`). The `Sandbox` statics use a shared default one.
 *
 * @example
 * ```ts ignore
 * import { Client } from "@agentbox/sdk";
 * const client = new Client({ url: "http://127.0.0.1:7070", token: Deno.env.get("TOKEN") });
 * const sandbox = await client.create({ labels: { job: "1" } });
 * ```
 */
export class Client {
  readonly transport: Transport;

  constructor(options: ConnectionOptions = {}) {
    this.transport = new Transport(options);
  }

  /** Create a sandbox (boot it, or restore `snapshot`); resolves once it runs. */
  async create(options: CreateOptions = {}): Promise<Sandbox> {
    const reply = await this.transport.request("POST", "/v1/sandboxes", { json: options });
    return new Sandbox(this, await reply.json<SandboxInfo>());
  }

  /** The sandbox `ref` (id, name or unique id prefix); rejects with kind not_found if none. */
  async connect(ref: string): Promise<Sandbox> {
    return new Sandbox(this, await this.#get(ref));
  }

  /** The running sandboxes (all with `all`), optionally by label. */
  async list(options: ListOptions = {}): Promise<SandboxInfo[]> {
    const labels = Array.isArray(options.labels)
      ? options.labels
      : Object.entries(options.labels ?? {}).map(([k, v]) => v === "" ? k : `${k}=${v}`);
    const reply = await this.transport.request("GET", "/v1/sandboxes", {
      query: { label: labels, all: options.all || undefined },
    });
    return (await reply.json<{ sandboxes: SandboxInfo[] }>()).sandboxes;
  }

  /** The saved snapshots. */
  async snapshots(): Promise<SnapshotInfo[]> {
    const reply = await this.transport.request("GET", "/v1/snapshots");
    return (await reply.json<{ snapshots: SnapshotInfo[] }>()).snapshots;
  }

  /** The images built on the server's machine (the server's JSON as it is). */
  async images(): Promise<Record<string, unknown>> {
    return await (await this.transport.request("GET", "/v1/images")).json();
  }

  /**
   * Build an image and its template, calling `onProgress` with each progress event; resolves
   * with the build's report.
   */
  async buildImage(
    options: { name?: string; profile?: string; agents?: string[] } = {},
    onProgress?: (event: ServerEvent) => void,
  ): Promise<unknown> {
    const reply = await this.transport.request("POST", "/v1/images/build", {
      json: options,
      accept: "text/event-stream",
    });
    for await (const event of serverEvents(reply.body)) {
      if (event.type === "done") return event.data;
      if (event.type === "error") throw errorFromBody(0, event.data, "The image build failed");
      onProgress?.(event);
    }
    throw protocolError("The image build's stream ended without its report");
  }

  /** The request log (egress decisions), oldest first: all, or one sandbox's. */
  async requests(options: { session?: string; limit?: number } = {}): Promise<unknown[]> {
    const reply = await this.transport.request("GET", "/v1/requests", { query: options });
    return (await reply.json<{ requests: unknown[] }>()).requests;
  }

  /** Requests, bytes and AI tokens, grouped `by` model (default), host or session. */
  async usage(
    options: { session?: string; by?: "model" | "host" | "session" } = {},
  ): Promise<Record<string, unknown>> {
    return await (await this.transport.request("GET", "/v1/usage", { query: options })).json();
  }

  /**
   * The server's events from now on — `sandbox` (`{id, name, state, previous}`) and `request`
   * (one request log record) — until the loop is left or `signal` aborts.
   */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<ServerEvent> {
    const reply = await this.transport.request("GET", "/v1/events", {
      accept: "text/event-stream",
      signal: options.signal,
    });
    try {
      yield* serverEvents(reply.body);
    } catch (error) {
      if (!options.signal?.aborted) throw error;
    }
  }

  /** Graylisted destinations waiting for an answer (with `all`, recent decisions too). */
  async approvals(options: DecisionListOptions = {}): Promise<Approval[]> {
    const reply = await this.transport.request("GET", "/v1/approvals", {
      query: listQuery(options),
    });
    return (await reply.json<{ approvals: Approval[] }>()).approvals;
  }

  /** Answer approval `id`; the decision is recorded as this client's. */
  async answerApproval(
    id: number,
    decision: "once" | "session" | "always" | "deny",
  ): Promise<Approval> {
    const reply = await this.transport.request("POST", `/v1/approvals/${id}`, {
      json: { decision },
    });
    return await reply.json<Approval>();
  }

  /** Applies held for review (with `all`, decided ones too). */
  async reviews(options: DecisionListOptions = {}): Promise<Review[]> {
    const reply = await this.transport.request("GET", "/v1/reviews", {
      query: listQuery(options),
    });
    return (await reply.json<{ reviews: Review[] }>()).reviews;
  }

  /** Accept review `id` (its apply runs as submitted) or reject it. */
  async decideReview(
    id: number,
    decision: "accept" | "reject",
  ): Promise<{ review: Review; applied: ApplySummary | null }> {
    const reply = await this.transport.request("POST", `/v1/reviews/${id}`, {
      json: { decision },
    });
    return await reply.json<{ review: Review; applied: ApplySummary | null }>();
  }

  /** Close kept-alive connections (the sandboxes keep running). */
  close(): void {
    this.transport.close();
  }

  async #get(ref: string): Promise<SandboxInfo> {
    const reply = await this.transport.request("GET", `/v1/sandboxes/${encodeURIComponent(ref)}`);
    return await reply.json<SandboxInfo>();
  }
}

/** Options of `approvals` and `reviews`. */
export interface DecisionListOptions {
  /** Only this sandbox's (id or name). */
  session?: string;
  /** Decided ones too, newest first (default: pending only). */
  all?: boolean;
  limit?: number;
}

function listQuery(options: DecisionListOptions) {
  return { session: options.session, all: options.all || undefined, limit: options.limit };
}

let sharedClient: Client | undefined;

/** The client the `Sandbox` statics use when given none: made on first use. */
function defaultClient(): Client {
  sharedClient ??= new Client();
  return sharedClient;
}

/** Which client a static uses: one given, one made from connection options, or the default. */
export interface ClientChoice {
  client?: Client | ConnectionOptions;
}

function pick(choice: ClientChoice | undefined): Client {
  const client = choice?.client;
  if (client === undefined) return defaultClient();
  return client instanceof Client ? client : new Client(client);
}

/**
 * One sandbox.
 *
 * @example
 * ```ts ignore
 * import { Sandbox } from "@agentbox/sdk";
 * await using sandbox = await Sandbox.create({ share: "/home/me/project", net: "none" });
 * const { stdout } = await sandbox.sh`ls ${"a dir"}`;
 * ```
 */
export class Sandbox implements AsyncDisposable {
  /** The sandbox's id. */
  readonly id: string;
  /** The client it is reached through. */
  readonly client: Client;
  /** Its guest files. */
  readonly files: Files;
  /** What the server last said about it. */
  info: SandboxInfo;

  /**
   * Run a `/bin/sh` command written as a template; each interpolated value becomes one quoted
   * word (an array several), so no value can change the command's shape.
   *
   * @example
   * ```ts ignore
   * const dir = "it's; rm -rf ~";
   * await sandbox.sh`mkdir -p ${dir} && ls -d ${dir}`;
   * ```
   */
  readonly sh: (strings: TemplateStringsArray, ...values: ShellValue[]) => Promise<ExecResult>;

  constructor(client: Client, info: SandboxInfo) {
    this.client = client;
    this.info = info;
    this.id = info.id;
    this.files = new Files(client.transport, info.id);
    this.sh = (strings, ...values) =>
      this.exec(["/bin/sh", "-c", shellCommand(strings, ...values)]);
  }

  /** Create a sandbox (boot it, or restore `snapshot`); resolves once it runs. */
  static async create(options: CreateOptions & ClientChoice = {}): Promise<Sandbox> {
    const { client, ...spec } = options;
    return await pick({ client }).create(spec);
  }

  /** The sandbox `ref` (id, name or unique id prefix). */
  static async connect(ref: string, choice?: ClientChoice): Promise<Sandbox> {
    return await pick(choice).connect(ref);
  }

  /** The running sandboxes (all with `all`), optionally by label. */
  static async list(options: ListOptions & ClientChoice = {}): Promise<SandboxInfo[]> {
    return await pick(options).list(options);
  }

  /** The sandbox's name, or null. */
  get name(): string | null {
    return this.info.name;
  }

  /** Ask the server for its current state. */
  async refresh(): Promise<SandboxInfo> {
    const reply = await this.client.transport.request("GET", this.#path(""));
    return this.info = await reply.json<SandboxInfo>();
  }

  /**
   * Run `argv` to its end: its exit and output (collected, unless a callback takes it as it
   * comes). A non-zero exit is a result, not an error.
   */
  async exec(argv: string[], options: ExecCallbacks = {}): Promise<ExecResult> {
    return await runExec(this.client.transport, this.id, argv, options);
  }

  /**
   * Run `argv`, yielding its events as they come: `started`, `stdout`/`stderr` chunks, `exit`.
   * Leaving the loop early kills the command.
   */
  execStream(
    argv: string[],
    options: ExecOptions = {},
  ): AsyncGenerator<ExecEvent, void, undefined> {
    return execEvents(this.client.transport, this.id, argv, options);
  }

  /** Run `argv` on a terminal (interactive): write to it, resize it, read what it shows. */
  async pty(argv: string[], options: PtyOptions = {}): Promise<Pty> {
    return await Pty.open(this.client.transport, this.id, argv, options);
  }

  /** The workspace's changes (collected now while it runs), optionally only `paths`. */
  async changes(options: { paths?: string[]; hideIgnored?: boolean } = {}): Promise<Changes> {
    const reply = await this.client.transport.request("GET", this.#path("/changes"), {
      query: { path: options.paths, hideIgnored: options.hideIgnored || undefined },
    });
    return await reply.json<Changes>();
  }

  /** Apply the changes (or `paths`) to the project on the host. */
  async apply(options: ApplyOptions = {}): Promise<ApplySummary> {
    const reply = await this.client.transport.request("POST", this.#path("/changes/apply"), {
      json: options,
    });
    return await reply.json<ApplySummary>();
  }

  /**
   * Submit the changes (or `paths`) for review: the apply is held until an approver accepts it
   * (`client.decideReview`), and runs then as submitted.
   */
  async submitReview(options: ReviewOptions = {}): Promise<Review> {
    const reply = await this.client.transport.request("POST", this.#path("/changes/review"), {
      json: options,
    });
    return await reply.json<Review>();
  }

  /** Discard the changes not applied. */
  async discard(): Promise<void> {
    await (await this.client.transport.request("POST", this.#path("/changes/discard"))).bytes();
  }

  /** Save the running sandbox as snapshot `name`; restore with `Sandbox.create({snapshot})`. */
  async snapshot(name: string): Promise<{ name: string }> {
    const reply = await this.client.transport.request("POST", this.#path("/snapshots"), {
      json: { name },
    });
    return await reply.json<{ name: string }>();
  }

  /** Stop the sandbox `seconds` from now (0: never). */
  async setTimeout(seconds: number): Promise<SandboxInfo> {
    const reply = await this.client.transport.request("POST", this.#path("/timeout"), {
      json: { timeoutSec: seconds },
    });
    return this.info = await reply.json<SandboxInfo>();
  }

  /** Stop it (its changes are kept for review); `timeSec`: grace before it is killed. */
  async stop(options: { timeSec?: number } = {}): Promise<SandboxInfo> {
    const reply = await this.client.transport.request("POST", this.#path("/stop"), {
      json: options,
    });
    return this.info = await reply.json<SandboxInfo>();
  }

  /** Stop it at once (its changes are kept for review). */
  async kill(): Promise<SandboxInfo> {
    const reply = await this.client.transport.request("POST", this.#path("/stop"), {
      json: { kill: true },
    });
    return this.info = await reply.json<SandboxInfo>();
  }

  /** Delete it (stopping it first), with its changes. */
  async delete(): Promise<void> {
    await (await this.client.transport.request("DELETE", this.#path(""), {
      query: { force: true },
    })).bytes();
  }

  /** `await using`: delete the sandbox (one already gone is fine). */
  async [asyncDispose](): Promise<void> {
    try {
      await this.delete();
    } catch (error) {
      if (!(error instanceof AgentboxError && error.kind === "not_found")) throw error;
    }
  }

  #path(rest: string): string {
    return `/v1/sandboxes/${encodeURIComponent(this.id)}${rest}`;
  }
}
