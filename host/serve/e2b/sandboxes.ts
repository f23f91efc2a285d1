/**
 * The E2B sandboxes a server runs: each one an ordinary detached agentbox session (`agentbox ps`
 * lists it, `agentbox diff` shows what it wrote under /workspace), plus what E2B's API says about
 * it and agentbox does not keep — template, metadata, end time, the envd access token — and the
 * processes its clients started. The end time is honoured: the session is stopped when it
 * passes; `setTimeout` moves it.
 *
 * @module
 */

import type { AgentClient } from "../../channel/agent_client.ts";
import { AgentboxError } from "../../agentbox_error.ts";
import { type Exec, ProcessTable } from "./processes.ts";

/** What the E2B API asks for when it creates a sandbox. */
export interface E2bCreateRequest {
  /** An agentbox image name. */
  template: string;
  metadata: Record<string, string>;
  envs: Record<string, string>;
  /** Seconds until the sandbox is stopped. */
  timeoutSec: number;
  /** Egress, in agentbox's terms (already mapped from E2B's `network`). */
  net?: "none" | "open";
  allow: string[];
  deny: string[];
  /** What E2B's `network` said, reported back by `getInfo`. */
  network?: { allowOut?: string[]; denyOut?: string[] };
}

/** What the server needs of agentbox: the host/api operations, behind a seam for tests. */
export interface E2bBackend {
  /** Start a detached session for `request`; resolves with its id once it runs. */
  start(request: E2bCreateRequest): Promise<{ id: string; cpus: number; memoryMb: number }>;
  /** Stop session `id` (its changes are collected for `agentbox diff`). */
  stop(id: string): Promise<void>;
  /** A connection to session `id`'s agent (the session's defaults apply to its commands). */
  connect(id: string): Promise<AgentClient>;
}

/** One E2B sandbox. */
export interface E2bSandbox {
  /** E2B's sandbox id: the agentbox session id. */
  id: string;
  template: string;
  metadata: Record<string, string>;
  startedAt: Date;
  endAt: Date;
  cpus: number;
  memoryMb: number;
  network?: { allowOut?: string[]; denyOut?: string[] };
  /** Clients of its envd present this as `X-Access-Token`. */
  accessToken: string;
  processes: ProcessTable;
}

/** The envd version the server claims: what the SDK needs to use every feature served here. */
export const ENVD_VERSION = "0.5.7";

/** Running sandboxes a server allows at once unless told otherwise. */
export const DEFAULT_MAX_SANDBOXES = 16;

/** The longest timeout E2B allows (24 h). */
export const MAX_TIMEOUT_SEC = 24 * 3600;

interface Entry extends E2bSandbox {
  timer?: ReturnType<typeof setTimeout>;
  connection?: Promise<AgentClient>;
}

/** The sandboxes of one server. */
export class E2bSandboxes {
  readonly #entries = new Map<string, Entry>();

  readonly #starting = new Set<Promise<unknown>>();
  #closed = false;

  constructor(private readonly backend: E2bBackend, private readonly max = DEFAULT_MAX_SANDBOXES) {}

  /**
   * Create a sandbox; resolves once its session runs. Throws `AgentboxError`
   * `e2b_too_many_sandboxes` (answered 429, E2B's limit status) when `max` run or start.
   */
  async create(request: E2bCreateRequest): Promise<E2bSandbox> {
    if (this.#closed) {
      throw new AgentboxError("The server is stopping", { kind: "state", code: "e2b_closing" });
    }
    if (this.#entries.size + this.#starting.size >= this.max) {
      throw new AgentboxError(`At most ${this.max} E2B sandboxes may run at once`, {
        kind: "conflict",
        code: "e2b_too_many_sandboxes",
      });
    }
    const task = this.#start(request);
    this.#starting.add(task);
    try {
      return await task;
    } finally {
      this.#starting.delete(task);
    }
  }

  /** Start and register (a sandbox that is registered is stopped by `kill` and `close`). */
  async #start(request: E2bCreateRequest): Promise<E2bSandbox> {
    const started = await this.backend.start(request);
    const now = new Date();
    const entry: Entry = {
      id: started.id,
      template: request.template,
      metadata: request.metadata,
      startedAt: now,
      endAt: now,
      cpus: started.cpus,
      memoryMb: started.memoryMb,
      network: request.network,
      accessToken: randomToken(),
      processes: new ProcessTable(() => this.#exec(entry)),
    };
    this.#entries.set(entry.id, entry);
    this.setTimeout(entry.id, request.timeoutSec);
    return entry;
  }

  /** Sandbox `id`, if this server runs it. */
  get(id: string): E2bSandbox | undefined {
    return this.#entries.get(id);
  }

  /** Sandbox `id`. Throws `AgentboxError` `e2b_sandbox_unknown` (not found). */
  require(id: string): E2bSandbox {
    const entry = this.#entries.get(id);
    if (!entry) {
      throw new AgentboxError(`Sandbox ${id} not found`, {
        kind: "not_found",
        code: "e2b_sandbox_unknown",
      });
    }
    return entry;
  }

  list(): E2bSandbox[] {
    return [...this.#entries.values()];
  }

  /** Stop sandbox `id` `timeoutSec` from now. */
  setTimeout(id: string, timeoutSec: number): void {
    const entry = this.require(id) as Entry;
    clearTimeout(entry.timer);
    const seconds = Math.min(Math.max(timeoutSec, 0), MAX_TIMEOUT_SEC);
    entry.endAt = new Date(Date.now() + seconds * 1000);
    entry.timer = setTimeout(() => {
      this.kill(id).catch(() => {});
    }, seconds * 1000);
  }

  /** Stop sandbox `id` and forget it; false when this server does not run it. */
  async kill(id: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#entries.delete(id);
    clearTimeout(entry.timer);
    entry.connection?.then((agent) => agent.close(), () => {});
    await this.backend.stop(id);
    return true;
  }

  /** Stop every sandbox, those still starting too (the server is going away). */
  async close(): Promise<void> {
    this.#closed = true;
    // Those still booting are registered when they are up, and stopped with the rest.
    await Promise.allSettled([...this.#starting]);
    await Promise.allSettled([...this.#entries.keys()].map((id) => this.kill(id)));
  }

  async #exec(entry: Entry): Promise<Exec> {
    const agent = await this.#agent(entry);
    return (request) => agent.exec(request);
  }

  #agent(entry: Entry): Promise<AgentClient> {
    if (!entry.connection) {
      const connection = this.backend.connect(entry.id);
      entry.connection = connection;
      connection.then(
        (agent) => agent.closed.finally(() => forget()),
        () => forget(),
      );
      const forget = () => {
        if (entry.connection === connection) entry.connection = undefined;
      };
    }
    return entry.connection;
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
